"""Dense captioning (VG, DenseCap protocol): ``agg_metrics`` is ``map``.

The eval regions are GT boxes or proposals (``id`` null); each gets a caption and the caption's
score ranks it. ``map`` is the benchmark number (METEOR-gated mAP); ``detmap`` is also returned.
"""

from lavis.common.registry import registry

from lavis_dynrefer import names
from lavis_dynrefer.tasks.region_task import RegionTask, RegionTaskSpec


@registry.register_task(names.TASK_DENSECAP)
class DenseCapTask(RegionTask):
    """DenseCap ``map`` and ``detmap`` (x100) of captioned boxes."""

    spec = RegionTaskSpec(metric="densecap", agg_metric="map")
