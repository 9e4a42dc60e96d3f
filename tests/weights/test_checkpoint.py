"""Checkpoint loaders: release names/shapes at full size (meta), values through the tiny model."""

from __future__ import annotations

import math

import pytest
import torch
from checkpoint_sources import (
    blip2_file,
    eva_clip_file,
    load_all,
    predict,
    randomize,
    release_file,
    runner_checkpoint,
    text_file,
    tiny_model,
    vit_file,
    write_sources,
)
from release_key_patterns import (
    NON_PARAMETER_KEYS,
    blip2_keys,
    eva_clip_visual_keys,
    release_keys,
    t5_keys,
    vit_keys,
)

from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.weights.checkpoint import (
    CheckpointError,
    load_any_checkpoint,
    load_blip2_checkpoint,
    load_dynrefer_checkpoint,
    load_eva_vit,
    load_flan_t5,
    load_release_checkpoint,
    load_t5_state_dict,
    load_text_tower,
)
from lavis_dynrefer.weights.checkpoint_mapping import ours_to_release, release_to_ours


def meta_state(keys: dict) -> dict[str, torch.Tensor]:
    """Spec keys as meta tensors (full size, no memory); position_ids real, as it is tiny."""
    state = {k: torch.empty(shape, dtype=dtype, device="meta")
             for k, (shape, dtype) in keys.items()}
    if NON_PARAMETER_KEYS[0] in state:
        state[NON_PARAMETER_KEYS[0]] = torch.arange(512).unsqueeze(0)
    return state


@pytest.fixture(scope="module")
def full_meta():
    return build_dynrefer(DynReferConfig(), meta=True, with_tokenizers=False)


@pytest.fixture(scope="module")
def donor():
    return randomize(tiny_model(seed=1), seed=2)


@pytest.fixture(scope="module")
def donor_predictions(donor):
    return predict(donor)


@pytest.fixture(scope="module")
def sources(donor, tmp_path_factory):
    return write_sources(donor, tmp_path_factory.mktemp("sources"))


def assert_same_parameters(model, donor, prefix=""):
    expected = dict(donor.named_parameters())
    for name, param in model.named_parameters():
        if name.startswith(prefix):
            torch.testing.assert_close(param.detach(), expected[name], rtol=0, atol=0, msg=name)


# ---- full size: the spec's names and shapes against the model -----------------------------


def test_spec_key_counts():
    release = release_keys()
    assert len(release) == 350 and list(release)[:3] == ["cem_memory", "attr_t", "attr_b"]
    trained = {k: v for k, v in release.items() if k not in NON_PARAMETER_KEYS}
    assert sum(math.prod(shape) for shape, _ in trained.values()) == 122_877_684
    counts = (len(blip2_keys()), len(vit_keys()), len(eva_clip_visual_keys()), len(t5_keys()))
    assert counts == (262, 511, 528, 558)


def test_release_names_map_one_to_one_onto_trainable_parameters(full_meta):
    trainable = {n: tuple(p.shape) for n, p in full_meta.named_parameters() if p.requires_grad}
    assert len(trainable) == 347
    mapped = {}
    for key, (shape, _) in release_keys().items():
        if key in NON_PARAMETER_KEYS:
            continue
        ours = release_to_ours(key)
        assert trainable.get(ours) == shape, (key, ours)
        assert ours_to_release(ours) == key
        mapped[ours] = key
    assert set(mapped) == set(trainable)


def test_full_size_release_loads_on_meta(full_meta):
    release = meta_state(release_keys())
    report = load_release_checkpoint(full_meta, {"model": release, "config": {
        "model": {"arch": "dynrefer_t5", "num_views": 3, "finetune_llm": False}}})
    assert len(report.loaded) == 347 and sorted(report.dropped) == sorted(NON_PARAMETER_KEYS)
    assert not report.missing and not report.unexpected
    assert all(full_meta.get_parameter(n).requires_grad for n in report.loaded)


def test_full_size_blip2_vit_t5_load_on_meta(full_meta):
    blip2 = load_blip2_checkpoint(full_meta, {"model": meta_state(blip2_keys())})
    assert len(blip2.loaded) == 259 and len(blip2.dropped) == 3
    assert {"resampler.query_tokens", "vision.ln_vision.weight"} <= set(blip2.loaded)
    vit = load_eva_vit(full_meta, meta_state(vit_keys()))
    assert len(vit.loaded) == 511 and all(n.startswith("vision.vit.") for n in vit.loaded)
    # Values take the parameter's dtype, which is the spec's in-model dtype (fp16 Linear/Conv).
    for key, (_, dtype) in vit_keys().items():
        assert full_meta.get_parameter(f"vision.vit.{key}").dtype == dtype, key
    # eva_clip_psz14.pt: 528 visual keys (block 39, norm, head extra) + text keys.
    clip = {f"visual.{k}": v for k, v in meta_state(eva_clip_visual_keys()).items()}
    clip["text.logit_scale"] = torch.tensor(1.0)
    clip_report = load_eva_vit(full_meta, clip)
    assert len(clip) == 529 and len(clip_report.loaded) == 511 and len(clip_report.dropped) == 17
    t5 = meta_state(t5_keys())
    t5["encoder.embed_tokens.weight"] = t5["shared.weight"]
    t5_report = load_t5_state_dict(full_meta, t5, "flan-t5-xl")
    assert len(t5_report.loaded) == 558 and t5_report.dropped == ["encoder.embed_tokens.weight"]
    assert {full_meta.get_parameter(n).dtype for n in t5_report.loaded} == {torch.bfloat16}


def test_full_size_runner_checkpoint_loads_on_meta(full_meta):
    trainable = {n for n, p in full_meta.named_parameters() if p.requires_grad}
    frozen = {n for n, p in full_meta.named_parameters() if not p.requires_grad}
    state = {k: v for k, v in full_meta.state_dict().items() if k not in frozen}
    assert len(state) == 350  # 347 trainable + position_ids + the two T5 aliases, like the release
    report = load_any_checkpoint(full_meta, {"model": state, "config": {"model": {
        "arch": "dynrefer", "region": {"num_views": 3}}}})
    assert report.kind == "dynrefer" and set(report.loaded) == trainable
    assert set(report.missing) == frozen and len(report.dropped) == 3


# ---- tiny: every source lands where it should -----------------------------------------------


def test_all_sources_reproduce_the_donor(donor, donor_predictions, sources):
    model = load_all(tiny_model(seed=5), sources)
    assert_same_parameters(model, donor)
    assert predict(model) == donor_predictions


def test_all_sources_fill_a_meta_model(donor, donor_predictions, sources):
    model = tiny_model(seed=5, meta=True)
    load_all(model, sources)
    assert not any(p.is_meta for p in model.parameters())
    assert [n for n, p in model.named_parameters() if p.requires_grad] == \
        [n for n, p in donor.named_parameters() if p.requires_grad]
    assert_same_parameters(model, donor)
    assert predict(model) == donor_predictions


def test_release_keys_land_in_named_modules(donor):
    model = tiny_model(seed=5)
    file = release_file(donor)
    report = load_release_checkpoint(model, file)
    state = file["model"]
    assert sorted(report.dropped) == sorted(NON_PARAMETER_KEYS)
    assert len(report.loaded) == len(state) - 3 == len(model.trainable_parameter_names())
    spots = {"attr_t": model.contrastive.logit_scale, "attr_b": model.contrastive.logit_bias,
             "cem_memory": model.language.memory, "t5_proj.weight": model.language.proj.weight,
             "cvem_mlp.2.weight": model.fusion[2].weight,
             "cvem_align.value_proj.weight": model.align.value_proj.weight,
             "tag_vision_proj.bias": model.tagging.vision_proj.bias,
             "attr_fc.weight": model.contrastive.decoder.fc.weight,
             "attr_head.encoder.layer.1.output.dense.weight":
                 model.contrastive.decoder.head.encoder.layer[1].output.dense.weight,
             "Qformer.bert.encoder.layer.0.crossattention.self.key.weight":
                 model.resampler.qformer.encoder.layer[0].crossattention.self.key.weight}
    for key, param in spots.items():
        assert torch.equal(param, state[key]), key


def test_release_refusals_name_the_key(donor):
    model = tiny_model(seed=5)
    before = {n: p.clone() for n, p in model.named_parameters()}

    def refused(change, match):
        file = release_file(donor)
        change(file)
        with pytest.raises(CheckpointError, match=match):
            load_release_checkpoint(model, file)

    refused(lambda f: f["model"].pop("cvem_mlp.0.bias"), r"missing 1 .*'cvem_mlp\.0\.bias'")
    refused(lambda f: f["model"].update({"t5_model.base_model.model.x.lora_A.weight":
                                         torch.zeros(1)}), "lora_A")
    refused(lambda f: f["model"].update({"tag_fc.bias": torch.zeros(2)}), "tag_fc.bias")
    refused(lambda f: f["model"].update({"cvem_extra.weight": torch.zeros(1)}),
            "unexpected keys: 'cvem_extra.weight'")
    refused(lambda f: f["model"].update({"visual_encoder.cls_token": torch.zeros(1)}),
            "visual_encoder.cls_token")
    refused(lambda f: f["config"]["model"].update(arch="dynrefer_vicuna"), "dynrefer_vicuna")
    refused(lambda f: f["config"]["model"].update(num_views=5), "num_views 5")
    refused(lambda f: f["model"].update({NON_PARAMETER_KEYS[0]: torch.zeros(1, 512).long()}),
            "arange")
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_release_llm_alias_check(donor):
    model = tiny_model(seed=5)
    file = release_file(donor)
    report = load_release_checkpoint(model, file)  # random T5, never loaded: not compared
    assert any("not checked" in note for note in report.notes)
    model.language.t5.weights_source = "somewhere"  # as load_flan_t5 marks it
    with pytest.raises(CheckpointError, match="another language model"):
        load_release_checkpoint(model, file)
    assert load_release_checkpoint(model, file, check_llm_alias=False).loaded


class Payload:
    """Any class: unpickling it would import and run code, which weights_only refuses."""


def test_weights_only_refuses_code(tmp_path):
    torch.save({"model": {"cem_memory": torch.zeros(1)}, "evil": Payload()}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_release_checkpoint(tiny_model(seed=5), tmp_path / "x.pth")


def test_blip2_file(donor):
    model = tiny_model(seed=5)
    report = load_blip2_checkpoint(model, blip2_file(donor))
    assert len(report.dropped) == 3
    assert_same_parameters(model, donor, "resampler.")
    assert_same_parameters(model, donor, "vision.ln_vision.")
    assert_same_parameters(model, donor, "language.proj.")
    with pytest.raises(CheckpointError, match="'model'"):
        load_blip2_checkpoint(model, blip2_file(donor)["model"])
    extra = blip2_file(donor)
    extra["model"]["Qformer.cls.predictions.bias"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match="Qformer.cls.predictions.bias"):
        load_blip2_checkpoint(model, extra)
    assert load_blip2_checkpoint(model, extra, strict=False).unexpected == \
        ["Qformer.cls.predictions.bias"]


def test_vit_layouts(donor):
    for file in (vit_file(donor), eva_clip_file(donor)):
        model = tiny_model(seed=5)
        load_eva_vit(model, file)
        assert_same_parameters(model, donor, "vision.vit.")
    bad = vit_file(donor)
    bad["pos_embed"] = bad["pos_embed"][:, :10]
    with pytest.raises(CheckpointError, match="pos_embed: file"):
        load_eva_vit(tiny_model(seed=5), bad)


@pytest.mark.parametrize("variant", ["bin", "sharded_bin", "safetensors"])
def test_flan_t5_folder(donor, tmp_path, variant):
    t5 = donor.language.t5.model
    if variant == "safetensors":
        # What a Hub safetensors folder holds: each shared tensor once (transformers 4.26's own
        # safe_serialization trips over the tied embedding aliases with current safetensors).
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in t5.state_dict().items()
                 if not k.endswith("embed_tokens.weight")}
        save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
        t5.config.save_pretrained(tmp_path)
    else:
        t5.save_pretrained(tmp_path, **({"max_shard_size": "200KB"}
                                        if variant == "sharded_bin" else {}))
    if variant == "sharded_bin":
        assert (tmp_path / "pytorch_model.bin.index.json").is_file()
    model = tiny_model(seed=5)
    report = load_flan_t5(model, tmp_path)
    assert model.language.t5.weights_source == str(tmp_path)
    assert len(report.loaded) == len(list(model.language.t5.parameters()))
    assert_same_parameters(model, donor, "language.t5.")


def test_flan_t5_refusals(donor, tmp_path):
    state = {k: v.clone() for k, v in donor.language.t5.model.state_dict().items()}
    del state["lm_head.weight"]
    with pytest.raises(CheckpointError, match="'lm_head.weight'"):
        load_t5_state_dict(tiny_model(seed=5), state, "t5")
    with pytest.raises(CheckpointError, match="no Hugging Face weights"):
        load_flan_t5(tiny_model(seed=5), tmp_path)


def test_text_tower_invalidates_tables(donor):
    model = tiny_model(seed=5)
    model.tag_table.refresh(model.text_tower, model.text_tokenizer)
    assert model.tag_table.is_current(model.text_tower)
    report = load_text_tower(model, text_file(donor))
    assert len(report.loaded) == len(model.text_tower.state_dict())
    assert not model.tag_table.is_current(model.text_tower)
    assert_same_parameters(model, donor, "text_tower.")


def test_text_tower_refused_on_meta_stays_meta(donor):
    model = tiny_model(seed=5, meta=True)
    file = text_file(donor)
    file.pop("text.ln_final.bias")
    with pytest.raises(CheckpointError, match="ln_final.bias"):
        load_text_tower(model, file)
    assert all(p.is_meta for p in model.text_tower.parameters())
    assert not model.text_tower.attn_mask.is_meta
    load_text_tower(model, text_file(donor))
    assert_same_parameters(model, donor, "text_tower.")


def test_runner_checkpoint_round_trip(donor, tmp_path):
    trained = randomize(tiny_model(seed=7), seed=8, trainable_only=True)
    torch.save(runner_checkpoint(trained), tmp_path / "checkpoint_4.pth")
    fresh = tiny_model(seed=7)  # the same frozen towers, other trainable values
    assert not torch.equal(fresh.language.memory, trained.language.memory)
    report = load_dynrefer_checkpoint(fresh, tmp_path / "checkpoint_4.pth")
    assert len(report.loaded) == len(fresh.trainable_parameter_names())
    assert report.missing and all(not fresh.get_parameter(n).requires_grad
                                  for n in report.missing)
    assert predict(fresh) == predict(trained)


def test_full_state_dict_round_trip_refreshes_tables(donor, donor_predictions):
    model = tiny_model(seed=9)
    model.tag_table.refresh(model.text_tower, model.text_tokenizer)  # from its random tower
    report = load_dynrefer_checkpoint(model, donor.state_dict())
    assert not report.missing and len(report.dropped) == 3
    assert not model.tag_table.is_current(model.text_tower)
    assert predict(model) == donor_predictions


def test_dynrefer_refusals(donor):
    state = runner_checkpoint(donor)
    state["model"].pop("language.memory")
    with pytest.raises(CheckpointError, match="language.memory"):
        load_dynrefer_checkpoint(tiny_model(seed=5), state)
    with pytest.raises(CheckpointError, match="'vision.extra'"):
        load_dynrefer_checkpoint(tiny_model(seed=5), {**donor.state_dict(),
                                                      "vision.extra": torch.zeros(1)})


def test_load_any_checkpoint_detects_layouts(donor, sources, tmp_path):
    model = tiny_model(seed=5)
    torch.save(runner_checkpoint(donor), tmp_path / "ours.pth")
    torch.save(eva_clip_file(donor), tmp_path / "eva_clip.pt")
    expected = {sources["vit"]: "eva_vit", sources["t5"]: "flan_t5", sources["blip2"]: "blip2",
                sources["release"]: "release", tmp_path / "ours.pth": "dynrefer"}
    for path, kind in expected.items():
        assert load_any_checkpoint(model, path).kind == kind, path
    with pytest.raises(CheckpointError, match="unknown checkpoint layout"):
        load_any_checkpoint(model, tmp_path / "eva_clip.pt")
    with pytest.raises(CheckpointError, match="URL"):
        load_any_checkpoint(model, "https://example.com/vg1.2_5e.pth")
