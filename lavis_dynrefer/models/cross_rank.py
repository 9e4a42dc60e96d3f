"""The global batch when training runs on several processes (DDP).

DDP averages the gradients of the ranks' losses, so it optimises ``mean_r L_r``. Every training
loss of the model is written so that this mean equals the loss one process computes on the
concatenated global batch, whatever the split (including a smaller last batch on some rank):

- a loss that is a sum of per-item terms divided by a count (regions, caption tokens) divides
  this rank's sum by ``mean_count_per_rank`` (the global count / world size) instead of its own
  count; on one process that is its own count, so nothing changes there;
- the region-text loss, which compares every region with every text of the global batch, sees
  the other ranks' items through ``gather_with_grad``, whose backward sums the gradients of all
  ranks' losses into each rank's own items (an all-reduce), so cross-rank pairs pass gradient to
  both of their items as they do in one process.

Shape letters: B batch items, "_local" this rank's, "_all" all ranks'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


def _world(group: dist.ProcessGroup | None = None) -> int:
    """World size of ``group``, 1 without an initialised process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


@dataclass(frozen=True)
class Gathered:
    """A batch gathered over ranks.

    Attributes:
        tensor: [B_all, ...], the ranks' batches in rank order, padding removed. Every row
            carries gradient back to the rank that owns it (``gather_with_grad``).
        offset: this rank's first row.
        sizes: every rank's batch size.
    """

    tensor: torch.Tensor
    offset: int
    sizes: tuple[int, ...]

    @property
    def total(self) -> int:
        """B_all."""
        return sum(self.sizes)

    @property
    def mean_size(self) -> float:
        """B_all / world size: the divisor that makes the rank-mean of the losses equal to the
        one-process loss (``mean_count_per_rank`` of the batch size)."""
        return self.total / len(self.sizes)


def _all_gather_rows(x: torch.Tensor, sizes: tuple[int, ...],
                     group: dist.ProcessGroup | None) -> torch.Tensor:
    """The ranks' row blocks [sizes[r], ...] concatenated in rank order: [sum(sizes), ...]."""
    padded = x.new_zeros((max(sizes), *x.shape[1:]))
    padded[: x.shape[0]] = x
    buffers = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(buffers, padded, group=group)
    return torch.cat([buf[:n] for buf, n in zip(buffers, sizes, strict=True)], dim=0)


class _AllGatherRows(torch.autograd.Function):
    """Forward: ``_all_gather_rows``. Backward: the gradient of this rank's block summed over
    every rank's loss (all-reduce of the whole gathered gradient, then this rank's slice)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, sizes: tuple[int, ...], rank: int,
                group: dist.ProcessGroup | None) -> torch.Tensor:
        ctx.sizes, ctx.rank, ctx.group = sizes, rank, group
        return _all_gather_rows(x, sizes, group)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start: start + ctx.sizes[ctx.rank]], None, None, None


def gather_with_grad(x: torch.Tensor, group: dist.ProcessGroup | None = None) -> Gathered:
    """All-gather a batch over ranks; gradient reaches every row's owner.

    Ranks may hold different batch sizes (a last, smaller batch): the sizes are exchanged first,
    every rank pads to the largest, and the padding is dropped after the gather. This rank's rows
    of the result are ``x``'s values; in backward each rank receives the sum over all ranks of
    the gradient on its rows. Every rank must call this (and, when the result needs gradient,
    run backward through it) in the same order. Without an initialised process group (or with
    one rank) this returns ``x`` itself.

    Args:
        x: [B_local, ...]; same trailing shape and dtype on every rank.
        group: process group; default the world.

    Returns:
        ``Gathered`` with tensor [B_all, ...].
    """
    if _world(group) == 1:
        return Gathered(x, 0, (x.shape[0],))
    rank = dist.get_rank(group)
    size = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    all_sizes = [torch.zeros_like(size) for _ in range(_world(group))]
    dist.all_gather(all_sizes, size, group=group)
    sizes = tuple(int(s.item()) for s in all_sizes)
    if x.requires_grad and torch.is_grad_enabled():
        tensor = _AllGatherRows.apply(x, sizes, rank, group)
    else:
        tensor = _all_gather_rows(x.detach(), sizes, group)
    return Gathered(tensor, sum(sizes[:rank]), sizes)


def mean_count_per_rank(count: int | float, device: torch.device | str = "cpu",
                        group: dist.ProcessGroup | None = None) -> float:
    """The global count of some items (regions, tokens) divided by the world size.

    A rank that divides its sum of per-item losses by this value returns a loss whose mean over
    ranks is the global sum over the global count: the one-process mean. On one process this is
    ``count`` itself (no communication).

    Args:
        count: this rank's number of items.
        device: where the all-reduce runs (a CUDA device for nccl).
    """
    world = _world(group)
    if world == 1:
        return float(count)
    total = torch.tensor([float(count)], dtype=torch.float64, device=device)
    dist.all_reduce(total, group=group)
    return float(total.item()) / world
