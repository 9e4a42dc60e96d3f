"""Threads for one image's views: NumPy's products, OpenCV and PIL's resize release the GIL, so
the views of one image can be hashed, and cropped, resized and normalised, side by side; the
hashes and pixels do not change.

``auto`` (``view_threads: null``) uses up to 4 threads in the main process (the demo, the
describe call, evaluation without workers) and 1 inside a DataLoader worker, where the workers
already use the cores. The pools live at module level, are made on first use (never in a
constructor) and are forgotten in a forked child, whose copies of the threads do not run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

MAX_AUTO_THREADS = 4
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _forget_pools() -> None:
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def resolve_threads(requested: int | None) -> int:
    """``requested``, or for None: 1 inside a DataLoader worker, else min(4, CPU count)."""
    if requested is not None:
        return requested
    from torch.utils.data import get_worker_info

    if get_worker_info() is not None:
        return 1
    return max(1, min(MAX_AUTO_THREADS, os.cpu_count() or 1))


def map_in_threads(fn: Callable[[int], T], count: int, threads: int) -> list[T]:
    """[fn(0), ..., fn(count - 1)], in order, on up to ``threads`` threads."""
    if threads <= 1 or count < 2:
        return [fn(i) for i in range(count)]
    pool = _POOLS.get(threads)
    if pool is None:
        pool = _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="views")
    return list(pool.map(fn, range(count)))


def chunks(count: int, parts: int) -> Sequence[range]:
    """``range(count)`` cut into at most ``parts`` contiguous ranges of near-equal length."""
    parts = max(1, min(parts, count))
    bounds = [count * k // parts for k in range(parts + 1)]
    return [range(bounds[k], bounds[k + 1]) for k in range(parts)]
