"""Region captioning (RefCOCOg, VG): one caption per GT box; ``agg_metrics`` is CIDEr.

CIDEr is the number the paper leads with for region captioning (with METEOR) and separates
checkpoints more than METEOR does. Set ``run.tag_threshold`` to 0.8 for VG and 0.76 for RefCOCOg
(method.md section 3).
"""

from lavis.common.registry import registry

from lavis_dynrefer import names
from lavis_dynrefer.tasks.region_task import RegionTask, RegionTaskSpec


@registry.register_task(names.TASK_REGION_CAPTION)
class RegionCaptionTask(RegionTask):
    """METEOR, CIDEr, BLEU_4, ROUGE_L (x100) of one caption per GT box."""

    spec = RegionTaskSpec(metric="region_caption", agg_metric="CIDEr")
