"""RegionPool (torchvision RoI-Align, aligned=False) on an arange patch grid, by hand."""

import pytest
import torch

from lavis_dynrefer.models.region_pool import RegionPool

PATCH = 14


def _tokens(offset: float = 0.0) -> torch.Tensor:
    """[1, 1 + 16, 1]: a CLS token of 999 then the 4x4 patch grid g[y, x] = 4y + x (+ offset)."""
    grid = torch.arange(16.0) + offset
    return torch.cat([torch.tensor([999.0]), grid]).reshape(1, 17, 1)


def test_box_over_two_by_two_patches_one_bin():
    # Box (14, 14, 42, 42) px = (1, 1, 3, 3) in patch units. aligned=False: no half-pixel shift,
    # patch centres at integers, so the one bin's 2x2 samples sit at x, y in {1.5, 2.5}.
    # g is linear, so bilinear reads are exact: 4*1.5+1.5 = 7.5, 8.5, 11.5, 12.5; mean = 10.0.
    # (Not the mean of patches (1..2, 1..2) = 7.5: aligned=False reads half a patch right/down.)
    pool = RegionPool(output_size=1, patch_size=PATCH, sampling_ratio=2)
    out = pool(_tokens(), torch.tensor([[14.0, 14.0, 42.0, 42.0]]))
    assert out.shape == (1, 1, 1, 1)
    assert out.item() == pytest.approx(10.0)


def test_whole_grid_two_by_two_bins_clamps_at_the_border():
    # Box (0, 0, 56, 56) = the whole 4x4 grid, 2x2 bins of 2 patches, samples at 0.5, 1.5 (bin 0)
    # and 2.5, 3.5 (bin 1). Past the last centre (3.5 > 3) torchvision clamps to 3, so bin 1's
    # samples average (2.5 + 3) / 2 = 2.75 and bin 0's 1.0:
    # [[4*1 + 1, 4*1 + 2.75], [4*2.75 + 1, 4*2.75 + 2.75]] = [[5, 6.75], [12, 13.75]].
    pool = RegionPool(output_size=2, patch_size=PATCH, sampling_ratio=2)
    out = pool(_tokens(), torch.tensor([[0.0, 0.0, 56.0, 56.0]]))
    torch.testing.assert_close(out[0, 0], torch.tensor([[5.0, 6.75], [12.0, 13.75]]))


def test_each_box_pools_its_own_map():
    pool = RegionPool(output_size=1, patch_size=PATCH)
    tokens = torch.cat([_tokens(), _tokens(100.0)])
    boxes = torch.tensor([[14.0, 14.0, 42.0, 42.0]] * 2)
    torch.testing.assert_close(pool(tokens, boxes).flatten(), torch.tensor([10.0, 110.0]))


def test_release_shapes_and_half_precision():
    pool = RegionPool()  # 16x16 output, patch 14, ratio 2
    tokens = torch.randn(3, 1 + 16 * 16, 8).half()
    out = pool(tokens, torch.tensor([[0.0, 0.0, 224.0, 224.0]] * 3))
    assert out.shape == (3, 8, 16, 16) and out.dtype == torch.float32
    assert pool(torch.zeros(0, 257, 8), torch.zeros(0, 4)).shape == (0, 8, 16, 16)


def test_bad_shapes_fail_loudly():
    pool = RegionPool()
    with pytest.raises(ValueError, match="square"):
        pool(torch.zeros(1, 11, 8), torch.zeros(1, 4))  # 10 patches
    with pytest.raises(ValueError, match="boxes"):
        pool(torch.zeros(2, 17, 8), torch.zeros(1, 4))
