"""Dense captioning (VG, DenseCap protocol): ``agg_metrics`` is ``map``.

The eval regions are GT boxes or proposals (``id`` null); each gets a caption and the caption's
score ranks it, except for predicted boxes read from a proposals file (``datasets.proposals``):
the detector's box score ranks those, as in DenseCap's and GRiT's protocol and as the release
does (``report_metrics_densecap`` of callsys/DynRefer takes ``grit_result.score`` when present).
``map`` is the benchmark number (METEOR-gated mAP); ``detmap`` is also returned.
"""

from typing import Any

from lavis.common.registry import registry

from lavis_dynrefer import names
from lavis_dynrefer.datasets.proposals import BOX_SCORE
from lavis_dynrefer.tasks.region_task import RegionTask, RegionTaskSpec


@registry.register_task(names.TASK_DENSECAP)
class DenseCapTask(RegionTask):
    """DenseCap ``map`` and ``detmap`` (x100) of captioned boxes."""

    spec = RegionTaskSpec(metric="densecap", agg_metric="map")

    def valid_step(self, model: Any, samples: dict[str, Any]) -> list[dict[str, Any]]:
        """The records of ``RegionTask``, with a predicted box's detector score as ``score``."""
        records = super().valid_step(model, samples)
        for record, extra in zip(records, samples.get("extra_info") or [{}] * len(records)):
            if extra and BOX_SCORE in extra:
                record["score"] = float(extra[BOX_SCORE])
        return records
