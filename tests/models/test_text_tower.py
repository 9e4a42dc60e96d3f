"""EVA-CLIP text tower: release names and shapes, causal EOT pooling, lock(), the weight loader."""

import builtins

import pytest
import torch
from torch import nn

from lavis_dynrefer.models.text_tower import (
    TextTower,
    TextTowerConfig,
    causal_mask,
    load_text_tower_weights,
)

TINY = TextTowerConfig(vocab_size=50, width=16, layers=2, heads=2, context_length=8, embed_dim=12)
EOT = TINY.vocab_size - 1  # the largest id, as CLIP's EOT


def _release_names_and_shapes() -> dict[str, tuple[int, ...]]:
    """The 150 tower names of release-checkpoints.md section 3, written from its patterns."""
    expected = {
        "positional_embedding": (77, 768),
        "text_projection": (768, 1024),
        "logit_scale": (),
        "token_embedding.weight": (49408, 768),
        "ln_final.weight": (768,),
        "ln_final.bias": (768,),
    }
    per_block = {
        "ln_1.weight": (768,), "ln_1.bias": (768,),
        "attn.in_proj_weight": (2304, 768), "attn.in_proj_bias": (2304,),
        "attn.out_proj.weight": (768, 768), "attn.out_proj.bias": (768,),
        "ln_2.weight": (768,), "ln_2.bias": (768,),
        "mlp.c_fc.weight": (3072, 768), "mlp.c_fc.bias": (3072,),
        "mlp.c_proj.weight": (768, 3072), "mlp.c_proj.bias": (768,),
    }
    for i in range(12):
        expected.update({f"transformer.resblocks.{i}.{k}": v for k, v in per_block.items()})
    return expected


def _tiny(seed: int = 0) -> TextTower:
    torch.manual_seed(seed)
    return TextTower(TINY).eval()


def _ids(*rows: list[int]) -> torch.Tensor:
    """Rows of SOT-less toy ids padded with zeros to the tiny context."""
    return torch.tensor([row + [0] * (TINY.context_length - len(row)) for row in rows])


def test_full_config_on_meta_has_the_release_names_shapes_and_count():
    with torch.device("meta"):
        tower = TextTower()
    state = tower.state_dict()
    assert len(state) == 150
    assert {k: tuple(v.shape) for k, v in state.items()} == _release_names_and_shapes()
    assert sum(p.numel() for p in tower.parameters()) == 123_846_913
    # The causal mask is a buffer but not part of any state dict.
    assert "attn_mask" not in state
    assert tuple(tower.attn_mask.shape) == (77, 77)
    assert TextTowerConfig() == TextTowerConfig(49408, 768, 12, 12, 77, 1024)


def test_construction_reads_no_file(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("construction must not read files")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    TextTower(TINY)


def test_config_rejects_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible"):
        TextTowerConfig(width=10, heads=3)


def test_causal_mask_by_hand():
    inf = float("-inf")
    expected = torch.tensor([[0.0, inf, inf], [0.0, 0.0, inf], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(causal_mask(3), expected)
    torch.testing.assert_close(_tiny().attn_mask, causal_mask(TINY.context_length))


def test_three_token_context_is_causal():
    # Context 3, EOT at position 0: the pooled feature may see token 0 only.
    torch.manual_seed(0)
    config = TextTowerConfig(vocab_size=10, width=8, layers=1, heads=2, context_length=3,
                             embed_dim=4)
    tower = TextTower(config).eval()
    base = tower(torch.tensor([[9, 1, 2]]))
    torch.testing.assert_close(tower(torch.tensor([[9, 5, 7]])), base)
    # EOT at position 2 sees all three tokens.
    assert not torch.allclose(tower(torch.tensor([[1, 2, 9]])), tower(torch.tensor([[1, 3, 9]])))


def test_forward_shape_and_dependence_on_tokens_up_to_eot_only():
    tower = _tiny()
    ids = _ids([3, 4, 5, EOT], [7, EOT])
    out = tower(ids)
    assert out.shape == (2, TINY.embed_dim)

    after = ids.clone()
    after[0, 5], after[1, 3] = 11, 12  # after the EOT
    torch.testing.assert_close(tower(after), out)

    before = ids.clone()
    before[0, 1] = 20  # before the EOT of row 0 only
    changed = tower(before)
    assert not torch.allclose(changed[0], out[0])
    torch.testing.assert_close(changed[1], out[1])


def test_shorter_sequence_equals_padded_one():
    tower = _tiny()
    ids = _ids([3, 4, EOT])
    torch.testing.assert_close(tower(ids[:, :4]), tower(ids))


def test_forward_rejects_bad_shapes():
    tower = _tiny()
    with pytest.raises(ValueError, match="N, T"):
        tower(torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match="T must be"):
        tower(torch.zeros(1, TINY.context_length + 1, dtype=torch.long))


def test_lock_freezes_and_stays_in_eval_under_parent_train():
    tower = TextTower(TINY).lock()
    head = nn.Linear(TINY.embed_dim, 1)
    parent = nn.ModuleDict({"tower": tower, "head": head})
    parent.train()
    assert tower.locked
    assert not any(m.training for m in tower.modules())
    assert head.training
    assert not any(p.requires_grad for p in tower.parameters())

    head(tower(_ids([1, 2, EOT]))).sum().backward()
    assert all(p.grad is None for p in tower.parameters())
    assert head.weight.grad is not None


def test_unlocked_tower_follows_train():
    tower = TextTower(TINY).eval()
    tower.train()
    trainable = {n for n, p in tower.named_parameters() if p.requires_grad}
    # CLIP's logit_scale is loaded but never used by DynRefer: it must not train (DDP).
    assert tower.training and trainable == {n for n, _ in tower.named_parameters()} - {
        "logit_scale"}


# ---- weight loader ------------------------------------------------------------------------


def _eva_file(source: TextTower, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """EVA-CLIP layout: ``visual.*`` keys (none contains "text") and ``text.`` + tower names."""
    state = {"visual.cls_token": torch.randn(1, 1, 8), "visual.blocks.0.attn.qkv.weight":
             torch.randn(24, 8), "visual.head.weight": torch.randn(TINY.embed_dim, 8)}
    state.update({f"text.{k}": v.clone().to(dtype) for k, v in source.state_dict().items()})
    return state


def _assert_same_weights(tower: TextTower, source: TextTower) -> None:
    loaded, reference = tower.state_dict(), source.state_dict()
    assert loaded.keys() == reference.keys()
    for name, value in reference.items():
        torch.testing.assert_close(loaded[name], value, rtol=0, atol=0, msg=name)


LAYOUTS = {
    "eva": lambda state: state,
    "model-wrapped": lambda state: {"model": state, "epoch": 3},
    "state_dict-wrapped-module-prefixed": lambda state: {
        "state_dict": {f"module.{k}": v for k, v in state.items()}},
    "module-wrapped": lambda state: {"module": state},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_loader_reads_every_layout_from_a_file(tmp_path, layout):
    source, tower = _tiny(seed=1), _tiny(seed=2)
    path = tmp_path / "eva_clip.pt"
    torch.save(LAYOUTS[layout](_eva_file(source)), path)

    report = load_text_tower_weights(tower, path)

    _assert_same_weights(tower, source)
    assert set(report.loaded) == set(source.state_dict())
    assert report.other_keys == 3
    assert report.stripped_module_prefix == ("module-prefixed" in layout)
    assert tower.weights_version == 1
    ids = _ids([3, 4, EOT])
    torch.testing.assert_close(tower(ids), source(ids))


def test_loader_casts_fp16_file_into_fp32_tower():
    source, tower = _tiny(seed=1), _tiny(seed=2)
    load_text_tower_weights(tower, _eva_file(source, torch.float16))
    assert all(p.dtype == torch.float32 for p in tower.parameters())
    torch.testing.assert_close(tower.text_projection, source.text_projection.half().float())


def test_loader_fills_a_tower_built_on_meta():
    source = _tiny(seed=1)
    with torch.device("meta"):
        tower = TextTower(TINY)
    with pytest.raises(ValueError, match="meta"):
        load_text_tower_weights(tower, _eva_file(source))
    tower.to_empty(device="cpu")
    tower.attn_mask.fill_(123.0)  # what an uninitialised buffer might hold
    load_text_tower_weights(tower, _eva_file(source))
    torch.testing.assert_close(tower.attn_mask, causal_mask(TINY.context_length))
    ids = _ids([3, 4, EOT])
    torch.testing.assert_close(tower.eval()(ids), source(ids))


def test_loader_refuses_a_missing_key_and_leaves_the_tower_untouched():
    source, tower = _tiny(seed=1), _tiny(seed=2)
    before = {k: v.clone() for k, v in tower.state_dict().items()}
    state = _eva_file(source)
    del state["text.transformer.resblocks.1.mlp.c_fc.bias"]
    total = len(source.state_dict())
    with pytest.raises(ValueError, match=rf"missing 1 of {total} .*found {total - 1}") as info:
        load_text_tower_weights(tower, state)
    assert "text.transformer.resblocks.1.mlp.c_fc.bias" in str(info.value)
    assert tower.weights_version == 0
    for name, value in tower.state_dict().items():
        torch.testing.assert_close(value, before[name])


def test_loader_refuses_a_file_with_only_visual_keys():
    state = {k: v for k, v in _eva_file(_tiny()).items() if k.startswith("visual.")}
    total = len(_tiny().state_dict())
    with pytest.raises(ValueError, match=rf"missing {total} of {total} .*found 0") as info:
        load_text_tower_weights(_tiny(), state)
    assert "visual.cls_token" in str(info.value)


def test_loader_refuses_a_wrong_shape():
    state = _eva_file(_tiny())
    state["text.text_projection"] = torch.zeros(TINY.width, TINY.embed_dim + 1)
    with pytest.raises(ValueError, match=r"text_projection: file \[16, 13\] vs tower \[16, 12\]"):
        load_text_tower_weights(_tiny(), state)


def test_loader_refuses_unexpected_text_keys_unless_allowed():
    state = _eva_file(_tiny())
    state["text.extra_proj"] = torch.zeros(3)
    with pytest.raises(ValueError, match="1 unexpected text keys: 'text.extra_proj'"):
        load_text_tower_weights(_tiny(), state)
    report = load_text_tower_weights(_tiny(), state, allowed_extra=("extra_proj",))
    assert report.dropped == ("text.extra_proj",)


def test_loader_drops_an_old_persistent_attn_mask():
    state = _eva_file(_tiny())
    state["text.attn_mask"] = torch.zeros(TINY.context_length, TINY.context_length)
    tower = _tiny(seed=3)
    report = load_text_tower_weights(tower, state)
    assert report.dropped == ("text.attn_mask",)
    torch.testing.assert_close(tower.attn_mask, causal_mask(TINY.context_length))


def test_loader_reads_a_bare_tower_state_dict_with_empty_prefix():
    source, tower = _tiny(seed=1), _tiny(seed=2)
    load_text_tower_weights(tower, source.state_dict(), prefix="")
    _assert_same_weights(tower, source)
