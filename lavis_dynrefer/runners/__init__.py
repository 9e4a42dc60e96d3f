"""The DynRefer runner: LAVIS's ``RunnerBase`` on CPU and GPU, registered as ``names.RUNNER``.

Importing this package registers the runner, LAVIS's own runners and LR schedulers, and the
step-based schedule ``linear_warmup_step_cosine_lr``.
"""

from lavis_dynrefer.runners.lr_schedule import LinearWarmupStepCosineLRScheduler
from lavis_dynrefer.runners.runner import DynReferRunner, optimizer_param_groups

__all__ = ["DynReferRunner", "LinearWarmupStepCosineLRScheduler", "optimizer_param_groups"]
