"""The LAVIS task adapter shared by the four region tasks.

LAVIS's runner drives a task through methods (``setup_task``, ``valid_step``,
``before_evaluation``, ``evaluation``, ``after_evaluation``), so they live on one ``BaseTask``
subclass rather than being written four times. What makes the tasks differ is data and small
functions, composed in a ``RegionTaskSpec``: which metric function scores them, which metric is
``agg_metrics`` (the runner keeps the checkpoint that maximizes it), which predicted fields the
result records carry, and what the model must learn from the GT file before predicting. Records,
the result file, the GT lookup and the options are separate modules this adapter calls.

Evaluation order, as LAVIS's runner calls it: ``before_evaluation(model, dataset)``, then
``evaluation(model, data_loader)`` (prepares the model from the GT file, sets the tag threshold,
runs ``valid_step`` over the loader), then ``after_evaluation(val_result, split_name, epoch)``
(writes the result file, and on the main process scores it with the metrics command's function
and appends the metrics to ``<output_dir>/evaluate.txt``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from lavis.common.dist_utils import is_main_process
from lavis.common.registry import registry
from lavis.tasks.base_task import BaseTask

from lavis_dynrefer.data.annotations import RegionAnnotationFile
from lavis_dynrefer.evaluation import EVALUATORS, PredictedRegion, load_results
from lavis_dynrefer.tasks.ground_truth import find_annotated_dataset, tag_threshold
from lavis_dynrefer.tasks.options import TaskOptions
from lavis_dynrefer.tasks.records import result_records
from lavis_dynrefer.tasks.result_files import log_metrics, save_results

logger = logging.getLogger(__name__)

# (GT file, result records) -> metrics x100; the functions of ``lavis_dynrefer.evaluation``.
MetricFn = Callable[[RegionAnnotationFile, Sequence[PredictedRegion]], dict[str, float]]


@dataclasses.dataclass(frozen=True)
class RegionTaskSpec:
    """What one region task is made of.

    Attributes:
        metric: the metrics command's TASK name (a key of ``evaluation.EVALUATORS``).
        agg_metric: the metric reported as ``agg_metrics``.
        extra_fields: predicted fields written besides id/image_id/bbox/caption/score/tags.
        prepare_model: tells the model what the GT file asks for (attributes, classes), before
            any prediction; None if nothing.
    """

    metric: str
    agg_metric: str
    extra_fields: tuple[str, ...] = ()
    prepare_model: Callable[[Any, RegionAnnotationFile], None] | None = None


PARTS_LOG_EVERY = 50


class RunningMeans:
    """Means of a model's scalar outputs over the last ``every`` training steps, logged."""

    def __init__(self, every: int):
        self.every = every
        self.steps = 0
        self._sums: dict[str, float] = {}

    def add(self, output: Mapping[str, Any]) -> None:
        """Count one step's 0-d tensors (all but ``loss``, which LAVIS logs itself)."""
        for key, value in output.items():
            if key != "loss" and isinstance(value, torch.Tensor) and value.numel() == 1:
                self._sums[key] = self._sums.get(key, 0.0) + float(value.detach())
        self.steps += 1
        if self.steps % self.every == 0 and self._sums:
            logger.info("steps %d-%d: %s", self.steps - self.every + 1, self.steps,
                        ", ".join(f"{k} {v / self.every:.4f}" for k, v in self._sums.items()))
            self._sums = {}


@dataclasses.dataclass(frozen=True)
class _EvaluatedSplit:
    gt: RegionAnnotationFile
    annotation_path: str | None


class RegionTask(BaseTask):
    """A region task; subclasses set ``spec`` and register a name.

    Args:
        options: the ``run:`` options (tag threshold).
        metric_fn: scores (GT file, results); default the metrics command's function for
            ``spec.metric``. Pass e.g. ``functools.partial(evaluate_densecap,
            caption_scorer=...)`` to swap the caption scorer.
    """

    spec: ClassVar[RegionTaskSpec]

    def __init__(self, options: TaskOptions | None = None, metric_fn: MetricFn | None = None):
        super().__init__()
        if not isinstance(getattr(type(self), "spec", None), RegionTaskSpec):
            raise TypeError(f"{type(self).__name__} must set a RegionTaskSpec as 'spec'")
        self.options = options or TaskOptions()
        self.metric_fn = metric_fn or EVALUATORS[self.spec.metric]
        self._dataset: Any = None
        self._evaluated: _EvaluatedSplit | None = None
        self._parts = RunningMeans(PARTS_LOG_EVERY)

    @classmethod
    def setup_task(cls, cfg: Any = None, **kwargs: Any) -> RegionTask:
        """LAVIS entry point: the task from the config's ``run:`` section."""
        return cls(options=TaskOptions.from_run_cfg(cfg.run_cfg if cfg is not None else None))

    def train_step(self, model: Any, samples: dict[str, Any]) -> torch.Tensor:
        """LAVIS's training step (the model's ``loss``). LAVIS logs only the total; the model's
        other scalars (loss parts, accuracies) are averaged and logged every
        ``PARTS_LOG_EVERY`` steps."""
        output = model(samples)
        self._parts.add(output)
        return output["loss"]

    def valid_step(self, model: Any, samples: dict[str, Any]) -> list[dict[str, Any]]:
        """Result records (data-and-metrics.md section 2) of one eval batch of R regions."""
        return result_records(samples, model.predict_answers(samples), self.spec.extra_fields)

    def before_evaluation(self, model: Any, dataset: Any, **kwargs: Any) -> None:
        super().before_evaluation(model, dataset, **kwargs)
        self._dataset = dataset

    def evaluation(self, model: Any, data_loader: Any, cuda_enabled: bool = True
                   ) -> list[dict[str, Any]]:
        """Prepare the model from the split's GT file, then predict every region."""
        dataset = find_annotated_dataset(data_loader) or find_annotated_dataset(self._dataset)
        if dataset is None:
            raise ValueError("the eval dataset exposes no 'annotations' (RegionAnnotationFile); "
                             "a region task scores against the split's GT file")
        gt = dataset.annotations
        if self.spec.prepare_model is not None:
            self.spec.prepare_model(model, gt)
        with tag_threshold(model, self.options.tag_threshold):
            results = super().evaluation(model, data_loader, cuda_enabled=cuda_enabled)
        self._evaluated = _EvaluatedSplit(gt, getattr(dataset, "annotation_path", None))
        return results

    def after_evaluation(self, val_result: list[dict[str, Any]], split_name: str,
                         epoch: int | str, **kwargs: Any) -> dict[str, float]:
        """Write the result file; on the main process score it and return the metrics.

        Returns:
            The metrics (x100) and ``agg_metrics`` (= ``spec.agg_metric``) on the main process,
            {} on the others.
        """
        if self._evaluated is None:
            raise RuntimeError("after_evaluation() before evaluation(): no GT file known")
        result_file = save_results(val_result, registry.get_path("result_dir"),
                                   f"{split_name}_epoch{epoch}")
        if not is_main_process():
            return {}
        gt = self._evaluated.gt
        logger.info("scoring %s (%s) against %s", result_file, self.spec.metric,
                    self._evaluated.annotation_path or gt.source)
        # Scored from the written file, exactly as the metrics command would read it.
        metrics = self.metric_fn(gt, load_results(result_file))
        log_metrics(registry.get_path("output_dir"), split_name, metrics)
        logger.info("%s %s: %s", split_name, self.spec.metric,
                    ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
        return {**metrics, "agg_metrics": metrics[self.spec.agg_metric]}
