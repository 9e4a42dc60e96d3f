"""LAVIS tasks of the four region benchmarks; importing this package registers them.

| task name (``run.task``) | class | ``agg_metrics`` |
|---|---|---|
| ``region_caption`` | ``RegionCaptionTask`` | CIDEr |
| ``densecap`` | ``DenseCapTask`` | map |
| ``ovad`` | ``OVADTask`` | ap/all |
| ``region_recognition`` | ``RegionRecognitionTask`` | accuracy |
| ``grounding`` | ``GroundingTask`` | rec_accuracy (``run.grounding_metric``) |

Each writes ``<result_dir>/<split>_epoch<epoch>.json`` in the result format and scores it with the
same function as ``python -m lavis_dynrefer.evaluation``, so both always agree.
"""

from lavis_dynrefer.tasks.densecap import DenseCapTask
from lavis_dynrefer.tasks.grounding import GroundingTask
from lavis_dynrefer.tasks.options import TaskOptions
from lavis_dynrefer.tasks.ovad import OVADTask
from lavis_dynrefer.tasks.region_caption import RegionCaptionTask
from lavis_dynrefer.tasks.region_recognition import RegionRecognitionTask
from lavis_dynrefer.tasks.region_task import RegionTask, RegionTaskSpec

__all__ = ["DenseCapTask", "GroundingTask", "OVADTask", "RegionCaptionTask",
           "RegionRecognitionTask", "RegionTask", "RegionTaskSpec", "TaskOptions"]
