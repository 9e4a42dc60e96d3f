"""ViewAlign: release names/shapes, initial state, and the forward against plain loops."""

import pytest
import torch
from naive_deform import naive_deform_sample

from lavis_dynrefer.models.align import AlignConfig, ViewAlign

# (name, shape) of the release's cvem_align.* keys, in file order (release-checkpoints.md 1.2).
RELEASE_KEYS = [
    ("offset_mask_dw.weight", (1408, 2, 3, 3)),
    ("offset_mask_dw.bias", (1408,)),
    ("offset_mask.weight", (112, 1408)),
    ("offset_mask.bias", (112,)),
    ("value_proj.weight", (1408, 1408)),
    ("value_proj.bias", (1408,)),
    ("output_proj.weight", (1408, 1408)),
    ("output_proj.bias", (1408,)),
]


def _tiny(seed: int = 0, width: int = 8, groups: int = 2) -> ViewAlign:
    torch.manual_seed(seed)
    return ViewAlign(AlignConfig(width=width, groups=groups))


def _naive_dwconv(module: ViewAlign, target: torch.Tensor, reference: torch.Tensor,
                  swap: bool = False):
    """Grouped 3x3 conv over cat[target; reference] with loops: [N, C, S, S] -> [N, C, S, S].

    ``swap`` concatenates [reference; target] instead (to show the test can tell them apart).
    """
    pair = [reference, target] if swap else [target, reference]
    stacked = torch.cat(pair, dim=1).double()
    weight = module.offset_mask_dw.weight.double()
    bias = module.offset_mask_dw.bias.double()
    n_, c_, h_, w_ = target.shape
    out = torch.zeros(n_, c_, h_, w_, dtype=torch.float64)
    for n in range(n_):
        for c in range(c_):
            for h in range(h_):
                for w in range(w_):
                    acc = bias[c].item()
                    for m in range(2):  # group c reads input channels 2c and 2c + 1
                        for a in range(3):
                            for b in range(3):
                                y, x = h + a - 1, w + b - 1
                                if 0 <= y < h_ and 0 <= x < w_:
                                    acc += weight[c, m, a, b].item() * stacked[n, 2 * c + m, y, x]
                    out[n, c, h, w] = acc
    return out


def _naive_align(module: ViewAlign, target: torch.Tensor, reference: torch.Tensor,
                 swap: bool = False):
    """The whole align step with plain loops for the convolution and the sampling (float64)."""
    def linear(layer, x):
        return x @ layer.weight.double().T + layer.bias.double()

    value = linear(module.value_proj, target.double().permute(0, 2, 3, 1))
    offset_mask = linear(module.offset_mask, _naive_dwconv(module, target, reference, swap)
                         .permute(0, 2, 3, 1))
    sampled = naive_deform_sample(value, offset_mask, module.config.groups)
    return linear(module.output_proj, sampled).permute(0, 3, 1, 2)


def test_release_state_dict_names_shapes_and_order():
    module = ViewAlign(AlignConfig(width=1408))
    assert [(k, tuple(v.shape)) for k, v in module.state_dict().items()] == RELEASE_KEYS
    assert sum(p.numel() for p in module.parameters()) == 4_152_304  # release-checkpoints.md 4


def test_initial_state_is_dcnv4_init_and_aligned_views_start_at_zero():
    module = _tiny()
    assert module.offset_mask.weight.abs().sum() == 0 and module.offset_mask.bias.abs().sum() == 0
    assert module.value_proj.bias.abs().sum() == 0 and module.output_proj.bias.abs().sum() == 0
    views = torch.randn(2, 3, 8, 4, 4)
    out = module(views)
    assert out.shape == views.shape
    torch.testing.assert_close(out[:, 0], views[:, 0], rtol=0, atol=0)
    # Zero modulation: the release's aligned views are output_proj.bias (= 0) until trained.
    torch.testing.assert_close(out[:, 1:], torch.zeros_like(out[:, 1:]))


def test_zero_offsets_unit_modulation_sums_the_neighbours_of_value_proj():
    module = _tiny()
    with torch.no_grad():  # offsets 0, modulation 1: per group, channels 18..26 of its 27-block
        for g in range(module.config.groups):
            module.offset_mask.bias[g * 27 + 18:g * 27 + 27] = 1.0
    target, reference = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
    out = module.align(target, reference)
    # Expected by hand: output_proj(sum over the 3x3 neighbourhood (zero-padded) of value_proj).
    value = module.value_proj(target.permute(0, 2, 3, 1)).detach().double()
    summed = torch.zeros_like(value)
    for h in range(4):
        for w in range(4):
            for y in range(max(h - 1, 0), min(h + 2, 4)):
                for x in range(max(w - 1, 0), min(w + 2, 4)):
                    summed[:, h, w] += value[:, y, x]
    expected = summed @ module.output_proj.weight.double().T + module.output_proj.bias.double()
    torch.testing.assert_close(out.double(), expected.permute(0, 3, 1, 2), atol=1e-5, rtol=1e-5)
    # The reference does not matter while the offset weights are zero.
    torch.testing.assert_close(module.align(target, torch.randn(2, 8, 4, 4)), out)


def test_forward_matches_plain_loops_with_trained_like_weights():
    module = _tiny(seed=3)
    with torch.no_grad():
        module.offset_mask.weight.normal_(0, 0.3)
        module.offset_mask.bias.normal_(0, 0.5)
    views = torch.randn(2, 3, 8, 4, 4)
    out = module(views)
    for r in range(2):
        for v in (1, 2):
            expected = _naive_align(module, views[r, v][None], views[r, 0][None])[0]
            torch.testing.assert_close(out[r, v].double(), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[:, 0], views[:, 0], rtol=0, atol=0)


def test_offsets_come_from_cat_target_then_reference():
    # The release concatenates [target; view 1]; the other order gives other offsets, and the
    # loop reference tells the two apart.
    module = _tiny(seed=4)
    with torch.no_grad():
        module.offset_mask.weight.normal_(0, 0.3)
        module.offset_mask.bias.normal_(0, 0.5)
    target, reference = torch.randn(1, 8, 4, 4), torch.randn(1, 8, 4, 4)
    out = module(torch.stack([reference, target], dim=1))[:, 1]  # view 0 is the reference
    torch.testing.assert_close(out.double(), _naive_align(module, target, reference),
                               atol=1e-5, rtol=1e-5)
    swapped = _naive_align(module, target, reference, swap=True)
    assert not torch.allclose(out.double(), swapped, atol=1e-3)


def test_gradient_reaches_every_parameter():
    module = _tiny(seed=5)
    with torch.no_grad():  # away from the zero init, where offset/value gradients vanish
        module.offset_mask.weight.normal_(0, 0.3)
        module.offset_mask.bias.normal_(0, 0.5)
    views = torch.randn(2, 3, 8, 4, 4, requires_grad=True)
    module(views).square().sum().backward()
    for name, param in module.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    assert views.grad[:, 0].abs().sum() > 0  # view 1 feeds the offsets of the others


def test_edge_cases_zero_regions_and_single_view():
    module = _tiny()
    assert module(torch.zeros(0, 3, 8, 4, 4)).shape == (0, 3, 8, 4, 4)
    single = torch.randn(2, 1, 8, 4, 4)
    assert module(single) is single


def test_config_validation():
    with pytest.raises(ValueError, match="multiple of groups"):
        AlignConfig(width=10, groups=4)
    with pytest.raises(ValueError, match="odd"):
        AlignConfig(width=8, kernel=2)
