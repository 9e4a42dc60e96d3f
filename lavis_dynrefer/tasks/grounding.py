"""The LAVIS task ``grounding``: ground every expression of a grounding file in its image's
candidate boxes (``model.ground``) and score it with ``evaluation.grounding``.

``run:`` options: ``grounding_threshold`` (default: the model's ``grounding_threshold``) and
``grounding_metric``, the metric reported as ``agg_metrics`` (default ``rec_accuracy``; ``f1``
for zero/one/many data such as Ref-ZOM, ``recall@1`` for phrase grounding). Results go to
``<result_dir>/<split>_epoch<epoch>.json`` in the grounding result format, scored exactly as
``python -m lavis_dynrefer.evaluation grounding`` scores that file.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from lavis.common.dist_utils import is_main_process
from lavis.common.registry import registry
from lavis.tasks.base_task import BaseTask

from lavis_dynrefer import names
from lavis_dynrefer.evaluation.grounding import evaluate_grounding
from lavis_dynrefer.grounding.formats import grounded_record, load_grounded
from lavis_dynrefer.tasks.options import TaskOptions
from lavis_dynrefer.tasks.result_files import log_metrics, save_results
from lavis_dynrefer.typed_config import ConfigError

logger = logging.getLogger(__name__)

AGG_METRICS = ("rec_accuracy", "f1", "recall@1", "recall@5", "recall@10", "no_target_accuracy")


@dataclasses.dataclass(frozen=True)
class GroundingOptions:
    """The grounding task's ``run:`` keys (module docstring)."""

    grounding_threshold: float | None = None
    grounding_metric: str = "rec_accuracy"

    def __post_init__(self) -> None:
        if self.grounding_threshold is not None and not 0.0 < self.grounding_threshold < 1.0:
            raise ConfigError(f"run.grounding_threshold must lie in (0, 1), got "
                              f"{self.grounding_threshold}")
        if self.grounding_metric not in AGG_METRICS:
            raise ConfigError(f"run.grounding_metric must be one of {', '.join(AGG_METRICS)}, "
                              f"got {self.grounding_metric!r}")


@registry.register_task(names.TASK_GROUNDING)
class GroundingTask(BaseTask):
    """Evaluation only: LAVIS's runner calls ``evaluation`` then ``after_evaluation``."""

    def __init__(self, options: GroundingOptions | None = None):
        super().__init__()
        self.options = options or GroundingOptions()
        self._grounding = None

    @classmethod
    def setup_task(cls, cfg: Any = None, **kwargs: Any) -> GroundingTask:
        run_cfg = cfg.run_cfg if cfg is not None else {}
        keys = [f.name for f in dataclasses.fields(GroundingOptions)]
        TaskOptions.from_run_cfg({k: v for k, v in run_cfg.items() if k not in keys})
        return cls(GroundingOptions(**{k: run_cfg[k] for k in keys if k in run_cfg}))

    def train_step(self, model: Any, samples: dict[str, Any]) -> Any:
        raise RuntimeError("the grounding task evaluates only (run.evaluate: true); train the "
                           "model with a region task")

    def valid_step(self, model: Any, samples: dict[str, Any]) -> list[dict[str, Any]]:
        """Grounding result records of the batch's images."""
        records = []
        for item in samples["images"]:
            views = {"image": item["image"], "region_boxes": item["region_boxes"]}
            grounded = model.ground(views, item["texts"], self.options.grounding_threshold)
            for expression_id, result in zip(item["expression_ids"], grounded):
                records.append(grounded_record(expression_id, item["candidates"],
                                               result["scores"], result["matches"]))
        return records

    def evaluation(self, model: Any, data_loader: Any, cuda_enabled: bool = True
                   ) -> list[dict[str, Any]]:
        dataset = getattr(data_loader, "dataset", None)
        self._grounding = getattr(dataset, "grounding", None)
        if self._grounding is None:
            raise ValueError("the grounding task needs a grounding dataset (datasets: grounding)")
        return super().evaluation(model, data_loader, cuda_enabled=cuda_enabled)

    def after_evaluation(self, val_result: list[dict[str, Any]], split_name: str,
                         epoch: int | str, **kwargs: Any) -> dict[str, float]:
        if self._grounding is None:
            raise RuntimeError("after_evaluation() before evaluation(): no grounding file known")
        result_file = save_results(val_result, registry.get_path("result_dir"),
                                   f"{split_name}_epoch{epoch}")
        if not is_main_process():
            return {}
        metrics = evaluate_grounding(self._grounding, load_grounded(result_file))
        log_metrics(registry.get_path("output_dir"), split_name, metrics)
        logger.info("%s grounding: %s", split_name,
                    ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
        return {**metrics, "agg_metrics": metrics[self.options.grounding_metric]}
