"""Wall time spent in each stage of a DynReferModel, by forward hooks (no copied model code).

Stages and the modules (or method) timed:

- ``vit``: ``model.vision`` (EVA ViT + ln_vision)
- ``roi+align+fusion``: ``model.region_pool``, ``model.align``, ``model.fusion``
- ``q-former``: ``model.resampler``
- ``tagging``, ``contrastive``: the two heads' modules
- ``generation``: ``model.language.generate`` (T5 encoder + decoding), wrapped for the duration

On CUDA each boundary synchronises, so the times are the stages' and not the launch queue's.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import torch

MODULE_STAGES = {
    "vision": "vit",
    "region_pool": "roi+align+fusion",
    "align": "roi+align+fusion",
    "fusion": "roi+align+fusion",
    "resampler": "q-former",
    "tagging": "tagging",
    "contrastive": "contrastive",
}
STAGES = ("vit", "roi+align+fusion", "q-former", "tagging", "contrastive", "generation")


class StageTimer:
    """Accumulates seconds per stage while ``attached``; ``seconds`` maps stage -> total."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._cuda = next(model.parameters()).is_cuda

    def _now(self) -> float:
        if self._cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def _wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = self._now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += self._now() - start
                self.calls[stage] += 1

        return timed

    @contextlib.contextmanager
    def attached(self) -> Iterator[StageTimer]:
        handles, starts = [], {}
        for name, stage in MODULE_STAGES.items():
            module = getattr(self.model, name)

            def before(module: torch.nn.Module, args: Any, name: str = name) -> None:
                starts[name] = self._now()

            def after(module: torch.nn.Module, args: Any, output: Any, name: str = name,
                      stage: str = stage) -> None:
                self.seconds[stage] += self._now() - starts.pop(name)
                self.calls[stage] += 1

            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after))
        language = self.model.language
        language.generate = self._wrap("generation", language.generate)
        try:
            yield self
        finally:
            del language.generate  # the instance attribute; the class's method shows again
            for handle in handles:
                handle.remove()
