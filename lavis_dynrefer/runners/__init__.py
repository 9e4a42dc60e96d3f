"""The DynRefer runner: LAVIS's ``RunnerBase`` on CPU and GPU, registered as ``names.RUNNER``.

Importing this package registers the runner, LAVIS's own runners and its LR schedulers.
"""

from lavis_dynrefer.runners.runner import DynReferRunner, optimizer_param_groups

__all__ = ["DynReferRunner", "optimizer_param_groups"]
