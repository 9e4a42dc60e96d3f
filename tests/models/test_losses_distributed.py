"""Cross-rank SigLIP batch: 2 gloo processes on CPU against one process on the whole batch."""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lavis_dynrefer.models.losses import gather_with_local_grad, region_text_sigmoid_loss

DIM = 4


def _full_batch(total: int):
    gen = torch.Generator().manual_seed(0)
    regions = torch.randn(total, DIM, generator=gen)
    texts = torch.randn(total, DIM, generator=gen)
    mixing = torch.randn(DIM, DIM, generator=gen)  # s(r, t) = r^T A t: not symmetric
    t, b = torch.tensor(1.0), torch.tensor(-2.0)
    return regions, texts, mixing, t, b


def _scores(regions: torch.Tensor, texts: torch.Tensor, mixing: torch.Tensor) -> torch.Tensor:
    """M[r, t] = s(region r, text t): [R, T]."""
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

    all_regions = gather_with_local_grad(my_regions)
    all_texts = gather_with_local_grad(my_texts)
    assert all_regions.offset == all_texts.offset == start
    assert all_regions.sizes == sizes
    torch.testing.assert_close(all_regions.tensor.detach(), regions)
    torch.testing.assert_close(all_texts.tensor.detach(), texts)

    sims_i2t = _scores(all_regions.tensor, my_texts, mixing).T  # [T_local, R_all]
    sims_t2i = _scores(my_regions, all_texts.tensor, mixing)  # [R_local, T_all]
    loss = region_text_sigmoid_loss(sims_i2t, sims_t2i, t, b, offset=all_regions.offset,
                                    normalizer=all_regions.mean_size)
    loss.backward()

    # The rank average (what DDP optimises) equals the one-process loss on the whole batch.
    mean = loss.detach().clone()
    dist.all_reduce(mean)
    mean /= world
    full = _scores(regions, texts, mixing)
    expected = region_text_sigmoid_loss(full.T, full, t, b)
    torch.testing.assert_close(mean, expected)

    # Gradient reaches this rank's rows through both directions, the others' rows are
    # constants: the same as one process with the other ranks' features detached.
    ref_regions = regions.clone()
    ref_texts = texts.clone()
    leaf_r = regions[local].clone().requires_grad_()
    leaf_t = texts[local].clone().requires_grad_()
    ref_regions[local] = leaf_r
    ref_texts[local] = leaf_t
    ref_loss = region_text_sigmoid_loss(
        _scores(ref_regions, leaf_t, mixing).T, _scores(leaf_r, ref_texts, mixing), t, b,
        offset=start, normalizer=sum(sizes) / world)
    ref_loss.backward()
    torch.testing.assert_close(my_regions.grad, leaf_r.grad)
    torch.testing.assert_close(my_texts.grad, leaf_t.grad)


@pytest.mark.slow  # spawning two interpreters that import LAVIS takes ~20 s
def test_two_rank_gather_matches_one_process_loss():
    # Equal batches (the release's setting), an unequal last batch, and an empty rank.
    cases = [(3, 3), (3, 2), (2, 0)]
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "rendezvous")
        mp.spawn(_worker, args=(2, init_file, cases), nprocs=2, join=True)
