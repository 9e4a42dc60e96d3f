"""DCNv4-layout deformable sampling against hand-computed values and a plain-loop reference."""

import pytest
import torch
from naive_deform import naive_deform_sample

from lavis_dynrefer.ops import (
    deform_sample,
    deform_sample_pytorch,
    offset_mask_channels,
    split_offset_mask,
)

# 3x3 map used throughout:   0 1 2
#                            3 4 5
#                            6 7 8
GRID = torch.arange(9.0).reshape(3, 3)
K = 9


def _value(groups: int = 1) -> torch.Tensor:
    """[1, 3, 3, G] with group g's channel = 10**g * GRID."""
    return torch.stack([GRID * 10**g for g in range(groups)], dim=-1)[None]


def _offset_mask(groups: int, dx=0.0, dy=0.0, mask=None, pad: int = 0) -> torch.Tensor:
    """[1, 3, 3, G*27 + pad]: one (dx, dy) at every kernel point, modulation ``mask`` [G, 9]."""
    mask = torch.ones(groups, K) if mask is None else torch.as_tensor(mask, dtype=torch.float32)
    blocks = []
    for g in range(groups):
        pairs = torch.tensor([dx, dy], dtype=torch.float32).repeat(K)  # dx0, dy0, dx1, dy1, ...
        blocks.append(torch.cat([pairs, mask[g]]))
    channels = torch.cat(blocks + [torch.full((pad,), 1e6)])
    return channels.expand(1, 3, 3, -1).clone()


def _only_point(k: int, groups: int = 1) -> torch.Tensor:
    mask = torch.zeros(groups, K)
    mask[:, k] = 1.0
    return mask


def test_offset_mask_channels_matches_release():
    assert offset_mask_channels(4, 3) == 112  # cvem_align.offset_mask.weight [112, 1408]
    assert offset_mask_channels(1, 3) == 32


def test_zero_offsets_unit_mask_is_the_3x3_neighbourhood_sum():
    # Zero padding: corner (0,0) = 0+1+3+4 = 8, edge (0,1) = 0+1+2+3+4+5 = 15, centre = 36.
    expected = torch.tensor([[8.0, 15.0, 12.0], [21.0, 36.0, 27.0], [20.0, 33.0, 24.0]])
    # Two groups: group 1 holds 10 * GRID and has modulation 2 -> 20x the sums (independent groups).
    mask = torch.stack([torch.ones(K), torch.full((K,), 2.0)])
    out = deform_sample(_value(2), _offset_mask(2, mask=mask, pad=4), groups=2)
    assert out.shape == (1, 3, 3, 2)
    torch.testing.assert_close(out[0, ..., 0], expected)
    torch.testing.assert_close(out[0, ..., 1], 20 * expected)


def test_padding_channels_are_ignored():
    a = deform_sample(_value(), _offset_mask(1, pad=0), groups=1)
    b = deform_sample(_value(), _offset_mask(1, pad=5), groups=1)  # pad filled with 1e6
    torch.testing.assert_close(a, b)


def test_kernel_points_are_x_major():
    # k = i * 3 + j, i the column (x) step, j the row (y) step; steps run -1, 0, +1.
    # k = 1: (i, j) = (0, 1) -> x - 1: out[h, w] = GRID[h, w - 1].
    left = deform_sample(_value(), _offset_mask(1, mask=_only_point(1)), groups=1)[0, ..., 0]
    torch.testing.assert_close(left, torch.tensor([[0.0, 0, 1], [0, 3, 4], [0, 6, 7]]))
    # k = 3: (i, j) = (1, 0) -> y - 1: out[h, w] = GRID[h - 1, w].
    up = deform_sample(_value(), _offset_mask(1, mask=_only_point(3)), groups=1)[0, ..., 0]
    torch.testing.assert_close(up, torch.tensor([[0.0, 0, 0], [0, 1, 2], [3, 4, 5]]))


def test_offset_pairs_are_dx_then_dy():
    # Centre point only (k = 4). dy = +1 moves down one row: out[h, w] = GRID[h + 1, w].
    down = deform_sample(_value(), _offset_mask(1, dy=1.0, mask=_only_point(4)), groups=1)
    torch.testing.assert_close(down[0, ..., 0], torch.tensor([[3.0, 4, 5], [6, 7, 8], [0, 0, 0]]))


def test_half_pixel_offset_is_the_bilinear_average():
    # dx = 0.5 at the centre point: (GRID[h, w] + GRID[h, w + 1]) / 2, the right neighbour of the
    # last column is outside and reads 0: row 0 -> (0+1)/2, (1+2)/2, (2+0)/2.
    out = deform_sample(_value(), _offset_mask(1, dx=0.5, mask=_only_point(4)), groups=1)
    expected = torch.tensor([[0.5, 1.5, 1.0], [3.5, 4.5, 2.5], [6.5, 7.5, 4.0]])
    torch.testing.assert_close(out[0, ..., 0], expected)
    # A quarter step in both axes at (0, 0): 0.75*0.75*0 + 0.75*0.25*1 + 0.25*0.75*3 + 0.25*0.25*4
    out = deform_sample(_value(), _offset_mask(1, dx=0.25, dy=0.25, mask=_only_point(4)), groups=1)
    assert out[0, 0, 0, 0].item() == pytest.approx(0.1875 + 0.5625 + 0.25)


def test_border_reads_zero_outside():
    centre = _only_point(4)
    # x = w - 0.5 in column 0: half of GRID[h, 0], half of the zero outside.
    out = deform_sample(_value(), _offset_mask(1, dx=-0.5, mask=centre), groups=1)[0, ..., 0]
    torch.testing.assert_close(out[:, 0], torch.tensor([0.0, 1.5, 3.0]))
    # x = w - 1.5 in column 0 and -0.5 in column 1: fully outside / half outside.
    out = deform_sample(_value(), _offset_mask(1, dx=-1.5, mask=centre), groups=1)[0, ..., 0]
    torch.testing.assert_close(out[:, 0], torch.zeros(3))
    torch.testing.assert_close(out[:, 1], GRID[:, 0] / 2)
    # Far outside everywhere.
    out = deform_sample(_value(), _offset_mask(1, dx=50.0, dy=-50.0), groups=1)
    torch.testing.assert_close(out, torch.zeros_like(out))


@pytest.mark.parametrize("dilation", [1, 2])
def test_matches_plain_loop_reference_on_random_input(dilation):
    gen = torch.Generator().manual_seed(0)
    groups, cg, h, w = 2, 3, 4, 5
    value = torch.randn(2, h, w, groups * cg, generator=gen)
    offset_mask = torch.randn(2, h, w, offset_mask_channels(groups), generator=gen) * 1.5
    out = deform_sample_pytorch(value, offset_mask, groups, dilation=dilation)
    expected = naive_deform_sample(value, offset_mask, groups, dilation=dilation)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)


def test_gradients_reach_value_offsets_and_modulation():
    gen = torch.Generator().manual_seed(1)
    value = torch.randn(1, 4, 4, 8, generator=gen, requires_grad=True)
    offset_mask = (torch.randn(1, 4, 4, 56, generator=gen) * 0.7).requires_grad_()
    deform_sample(value, offset_mask, groups=2).square().sum().backward()
    offsets, modulation = split_offset_mask(offset_mask.grad, groups=2)
    assert value.grad.abs().sum() > 0
    assert offsets.abs().sum() > 0 and modulation.abs().sum() > 0
    assert offset_mask.grad[..., 54:].abs().sum() == 0  # padding channels


def test_half_precision_keeps_dtype():
    out = deform_sample(_value().half(), _offset_mask(1).half(), groups=1)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out[0, 1, 1, 0].float(), torch.tensor(36.0))


def test_bad_inputs_fail_loudly():
    with pytest.raises(ValueError, match="at least"):
        deform_sample(_value(), torch.zeros(1, 3, 3, 26), groups=1)
    with pytest.raises(ValueError, match="divisible"):
        deform_sample(torch.zeros(1, 3, 3, 3), torch.zeros(1, 3, 3, 64), groups=2)
    with pytest.raises(ValueError, match="backend"):
        deform_sample(_value(), _offset_mask(1), groups=1, backend="cuda")
    with pytest.raises(ValueError, match="CUDA"):
        deform_sample(_value(), _offset_mask(1), groups=1, backend="dcnv4")
