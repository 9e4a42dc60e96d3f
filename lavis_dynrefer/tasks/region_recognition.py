"""Region recognition with GT boxes (COCO val2017): ``agg_metrics`` is top-1 ``accuracy``.

Before predicting, the model is given the GT file's category names in file order, so ``cls``
logits line up with the GT categories. Both numbers of the paper are returned: ``accuracy`` and
``mAP`` (COCO bbox AP of one detection per GT box). Accuracy is the aggregate because it is the
direct measure of classifying given boxes; the box AP only re-ranks those same argmax decisions by
their logits.
"""

from lavis.common.registry import registry

from lavis_dynrefer import names
from lavis_dynrefer.tasks.ground_truth import set_classes_from
from lavis_dynrefer.tasks.region_task import RegionTask, RegionTaskSpec


@registry.register_task(names.TASK_REGION_RECOGNITION)
class RegionRecognitionTask(RegionTask):
    """``accuracy`` and ``mAP`` (x100) of classifying every GT box."""

    spec = RegionTaskSpec(metric="recognition", agg_metric="accuracy", extra_fields=("cls",),
                          prepare_model=set_classes_from)
