"""Gradient-norm clipping for LAVIS's training loop (``run.max_grad_norm``).

LAVIS 1.0.2's ``train_inner_loop`` calls ``loss.backward()`` and ``optimizer.step()`` (or
``scaler.step``) with no clipping in between. A step pre-hook on the optimizer clips there
without copying the loop: it runs inside ``optimizer.step()``, after ``GradScaler.step`` has
unscaled the gradients and after DDP has averaged them, so ``max_norm`` is in the units of the
true gradient. Optimizer state and checkpoints are unchanged, so resuming works as before.
"""

from __future__ import annotations

import torch
from torch.utils.hooks import RemovableHandle


def clip_gradients_before_step(optimizer: torch.optim.Optimizer,
                               max_norm: float) -> RemovableHandle:
    """Clip the global L2 norm of the gradients of every parameter ``optimizer`` updates to
    ``max_norm`` before each of its steps; the hook's handle (``.remove()`` undoes it)."""
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm!r}")
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def clip(_optimizer: torch.optim.Optimizer, _args: tuple, _kwargs: dict) -> None:
        torch.nn.utils.clip_grad_norm_(params, max_norm)

    return optimizer.register_step_pre_hook(clip)
