"""A learning-rate schedule measured in steps: linear warm-up, then cosine over all the steps.

LAVIS's ``linear_warmup_cosine_lr`` warms up during epoch 0 only and then sets one cosine value
per epoch, so its schedule depends on how the data is cut into epochs: with few long epochs the
whole first epoch runs at the warm-up or peak rate. ``linear_warmup_step_cosine_lr`` decays every
step instead, from ``init_lr`` after ``warmup_steps`` down to ``min_lr`` at the last step of
``max_epoch`` epochs; the runner gives it the steps per epoch (``iters_per_epoch``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from lavis.common.registry import registry

from lavis_dynrefer import names


def warmup_cosine_lr(step: int, total_steps: int, init_lr: float, min_lr: float,
                     warmup_steps: int, warmup_start_lr: float) -> float:
    """The learning rate at 0-based ``step`` of ``total_steps``.

    Steps 0 .. warmup_steps - 1 rise linearly from ``warmup_start_lr`` towards ``init_lr``
    (reaching it at step ``warmup_steps``); then a half cosine from ``init_lr`` to ``min_lr``,
    which it reaches at step ``total_steps - 1``.
    """
    if step < warmup_steps:
        return warmup_start_lr + (init_lr - warmup_start_lr) * step / warmup_steps
    decay_steps = max(total_steps - 1 - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return min_lr + (init_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


@registry.register_lr_scheduler(names.LR_SCHEDULE_STEP_COSINE)
class LinearWarmupStepCosineLRScheduler:
    """LAVIS scheduler interface (``step(cur_epoch, cur_step)``) over global steps.

    Args:
        optimizer: every param group gets the same rate.
        max_epoch: epochs of the run.
        min_lr, init_lr: final and peak rates.
        warmup_steps: steps of linear warm-up (0: none).
        warmup_start_lr: the first step's rate (negative: ``init_lr``, as LAVIS).
        iters_per_epoch: optimizer steps per epoch (the runner passes the training loader's
            length).
    """

    NEEDS_ITERS_PER_EPOCH = True

    def __init__(self, optimizer: torch.optim.Optimizer, max_epoch: int, min_lr: float,
                 init_lr: float, warmup_steps: int = 0, warmup_start_lr: float = -1,
                 iters_per_epoch: int | None = None, **_: object):
        if not iters_per_epoch or iters_per_epoch < 1:
            raise ValueError(f"{names.LR_SCHEDULE_STEP_COSINE} needs iters_per_epoch >= 1 "
                             f"(the {names.RUNNER} runner passes it), got {iters_per_epoch!r}")
        self.optimizer = optimizer
        self.iters_per_epoch = int(iters_per_epoch)
        self.total_steps = int(max_epoch) * self.iters_per_epoch
        self.min_lr, self.init_lr = float(min_lr), float(init_lr)
        self.warmup_steps = int(warmup_steps)
        self.warmup_start_lr = float(warmup_start_lr) if warmup_start_lr >= 0 else self.init_lr

    def lr_at(self, cur_epoch: int, cur_step: int) -> float:
        return warmup_cosine_lr(cur_epoch * self.iters_per_epoch + cur_step, self.total_steps,
                                self.init_lr, self.min_lr, self.warmup_steps,
                                self.warmup_start_lr)

    def step(self, cur_epoch: int, cur_step: int) -> None:
        lr = self.lr_at(cur_epoch, cur_step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr


def build_lr_scheduler(run_cfg: Any, optimizer: torch.optim.Optimizer, *, max_epoch: int,
                       min_lr: float, init_lr: float, iters_per_epoch: Callable[[], int]) -> Any:
    """``run.lr_sched`` with the arguments LAVIS's runner gives it, plus ``iters_per_epoch()``
    for a schedule that needs it (``NEEDS_ITERS_PER_EPOCH``; it is only called then).

    Raises:
        ValueError: ``run.lr_sched`` names no registered schedule (the known ones are listed).
    """
    schedule = registry.get_lr_scheduler_class(run_cfg.lr_sched)
    if schedule is None:
        known = sorted(registry.mapping["lr_scheduler_name_mapping"])
        raise ValueError(f"run.lr_sched {run_cfg.lr_sched!r} is not a registered schedule: "
                         f"{known}")
    kwargs: dict[str, Any] = {
        "optimizer": optimizer, "max_epoch": max_epoch, "min_lr": min_lr, "init_lr": init_lr,
        "decay_rate": run_cfg.get("lr_decay_rate", None),
        "warmup_start_lr": run_cfg.get("warmup_lr", -1),
        "warmup_steps": run_cfg.get("warmup_steps", 0),
    }
    if getattr(schedule, "NEEDS_ITERS_PER_EPOCH", False):
        kwargs["iters_per_epoch"] = iters_per_epoch()
    return schedule(**kwargs)
