"""Cross-rank SigLIP batch: 2 gloo processes on CPU against one process on the whole batch.

DDP optimises the mean over ranks of the ranks' losses. With ``cross_rank.gather_with_grad``
that mean, and its gradient with respect to every region and text feature, must equal the
one-process loss and gradient on the concatenated batch, also when a rank holds a smaller
last batch or none.
"""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lavis_dynrefer.models.cross_rank import gather_with_grad, mean_count_per_rank
from lavis_dynrefer.models.losses import region_text_sigmoid_loss

DIM = 4


def _full_batch(total: int):
    gen = torch.Generator().manual_seed(0)
    regions = torch.randn(total, DIM, generator=gen, dtype=torch.float64)
    texts = torch.randn(total, DIM, generator=gen, dtype=torch.float64)
    mixing = torch.randn(DIM, DIM, generator=gen, dtype=torch.float64)  # s = r^T A t
    t, b = torch.tensor(1.0, dtype=torch.float64), torch.tensor(-2.0, dtype=torch.float64)
    return regions, texts, mixing, t, b


def _scores(regions: torch.Tensor, texts: torch.Tensor, mixing: torch.Tensor) -> torch.Tensor:
    """M[r, t] = s(region r, text t): [R, T]; not symmetric."""
    return regions @ mixing @ texts.T


def _worker(rank: int, world: int, init_file: str, cases: list[tuple[int, ...]]) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        for sizes in cases:
            _check_case(rank, world, sizes)
    finally:
        dist.destroy_process_group()


def _check_case(rank: int, world: int, sizes: tuple[int, ...]) -> None:
    regions, texts, mixing, t, b = _full_batch(sum(sizes))
    start = sum(sizes[:rank])
    local = slice(start, start + sizes[rank])
    my_regions = regions[local].clone().requires_grad_()
    my_texts = texts[local].clone().requires_grad_()

    all_regions = gather_with_grad(my_regions)
    all_texts = gather_with_grad(my_texts)
    assert all_regions.offset == all_texts.offset == start
    assert all_regions.sizes == sizes
    torch.testing.assert_close(all_regions.tensor.detach(), regions)
    torch.testing.assert_close(all_texts.tensor.detach(), texts)
    assert mean_count_per_rank(sizes[rank]) == sum(sizes) / world

    sims_i2t = _scores(all_regions.tensor, my_texts, mixing).T  # [T_local, R_all]
    sims_t2i = _scores(my_regions, all_texts.tensor, mixing)  # [R_local, T_all]
    loss = region_text_sigmoid_loss(sims_i2t, sims_t2i, t, b, offset=all_regions.offset,
                                    normalizer=all_regions.mean_size)
    loss.backward()

    # One process on the whole batch.
    ref_regions = regions.clone().requires_grad_()
    ref_texts = texts.clone().requires_grad_()
    full = _scores(ref_regions, ref_texts, mixing)
    expected = region_text_sigmoid_loss(full.T, full, t, b)
    expected.backward()

    mean = loss.detach().clone()
    dist.all_reduce(mean)
    torch.testing.assert_close(mean / world, expected.detach())
    # Each rank's features receive the gradient of every rank's loss (the backward
    # all-reduce); DDP divides by the world size.
    if sizes[rank]:
        torch.testing.assert_close(my_regions.grad / world, ref_regions.grad[local])
        torch.testing.assert_close(my_texts.grad / world, ref_texts.grad[local])


@pytest.mark.slow  # spawning two interpreters that import LAVIS takes ~20 s
def test_two_rank_gather_matches_one_process_loss_and_gradient():
    # Equal batches (the release's setting), an unequal last batch, and an empty rank.
    cases = [(3, 3), (3, 2), (2, 0)]
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "rendezvous")
        mp.spawn(_worker, args=(2, init_file, cases), nprocs=2, join=True)
