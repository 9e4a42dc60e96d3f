"""OVAD box-given attribute detection: ``agg_metrics`` is ``ap/all`` (the paper's mAP all).

Before predicting, the model is given the GT file's attributes in file order, so ``attr`` scores
line up with the GT ``att_vec``.
"""

from lavis.common.registry import registry

from lavis_dynrefer import names
from lavis_dynrefer.tasks.ground_truth import set_attributes_from
from lavis_dynrefer.tasks.region_task import RegionTask, RegionTaskSpec


@registry.register_task(names.TASK_OVAD)
class OVADTask(RegionTask):
    """``ap/all``, ``ap/head``, ``ap/medium``, ``ap/tail`` (x100) of per-box attribute scores."""

    spec = RegionTaskSpec(metric="ovad", agg_metric="ap/all", extra_fields=("attr",),
                          prepare_model=set_attributes_from)
