"""Build modules with their parameters on the ``meta`` device (no memory, no weights).

The full-size model (~4 B parameters) must be built and measured here without weights. Putting
only parameters (and persistent buffers) on meta, rather than every tensor, keeps builders that
compute init schedules on real tensors working (EVA's ViT calls ``.item()`` on a linspace).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def meta_parameters() -> Iterator[None]:
    """Inside this context every registered parameter is created on ``meta``."""
    original = nn.Module.register_parameter

    def register_on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.detach().to("meta"), requires_grad=param.requires_grad)
        original(module, name, param)

    nn.Module.register_parameter = register_on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = original


def is_meta(module: nn.Module) -> bool:
    """True when any parameter of ``module`` is on the meta device."""
    return any(p.device.type == "meta" for p in module.parameters())


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values (shared tensors counted once)."""
    seen, total = set(), 0
    for p in module.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def materialize(module: nn.Module, device: str | torch.device = "cpu") -> nn.Module:
    """Allocate meta parameters (uninitialised) on ``device``, e.g. before loading weights."""
    return module.to_empty(device=device)
