"""The DynRefer model end to end: registry, gradients, frozen towers, losses, predictions."""

import dataclasses
import math

import pytest
import torch

import lavis_dynrefer
from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.meta_init import count_parameters

# Parameter groups the release trains (release-checkpoints.md section 4), in our names.
TRAINABLE_GROUPS = {"resampler.qformer", "align", "fusion", "language.memory", "language.proj",
                    "tagging", "contrastive"}


@pytest.fixture(scope="module")
def tiny():
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    return model, vis


def batch(vis, num_regions=4, seed=0):
    from PIL import Image

    from lavis_dynrefer.paths import asset_path

    image = Image.open(asset_path("astronaut.jpg"))
    boxes = [[150, 40, 320, 220], [0, 0, 100, 100], [300, 300, 420, 510], [200, 100, 230, 130],
             [10, 400, 500, 500], [50, 50, 450, 450]][:num_regions]
    views = vis["eval"](image, boxes)
    samples = {"image": views.images, "region_boxes": views.boxes,
               "caption": ["a red car", "the sky", "a white circle", "blue square left of car",
                           "the road", "a dog"][:num_regions],
               "tags": [["red", "car"], ["sky"], ["white", "circle"], [], ["road"],
                        ["dog"]][:num_regions],
               "phrases": [["red car"], [], ["white circle"], ["blue square"], [],
                           []][:num_regions]}
    return samples


def group(name: str) -> str:
    parts = name.split(".")
    for depth in (2, 1):
        if ".".join(parts[:depth]) in TRAINABLE_GROUPS:
            return ".".join(parts[:depth])
    return parts[0]


def test_registry_and_zoo(tiny):
    from lavis.common.registry import registry
    from lavis.models import ModelZoo

    assert registry.get_model_class("dynrefer") is lavis_dynrefer.DynReferModel
    assert ModelZoo().model_zoo["dynrefer"] == ["flant5xl", "tiny", "shapes", "release"]
    model, vis = tiny
    assert isinstance(model, lavis_dynrefer.DynReferModel)
    assert type(vis["eval"]).__name__ == "MultiViewProcessor"


def test_every_trainable_parameter_gets_a_gradient(tiny):
    model, vis = tiny
    model.train()
    model.zero_grad(set_to_none=True)
    losses = model(batch(vis))
    losses["loss"].backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    frozen = {n: p for n, p in model.named_parameters() if not p.requires_grad}
    assert {group(n) for n in trainable} == TRAINABLE_GROUPS
    assert all(p.grad is None for p in frozen.values()), [n for n, p in frozen.items() if p.grad
                                                          is not None]
    missing = [n for n, p in trainable.items() if p.grad is None]
    assert missing == []
    # The release zero-initialises the align module's offset/modulation Linear, so at init the
    # sampled values are 0: the value path and output_proj's weight get exactly zero gradient.
    zero = {n for n, p in trainable.items() if not p.grad.abs().sum() > 0}
    assert zero == {"align.value_proj.weight", "align.value_proj.bias",
                    "align.offset_mask_dw.weight", "align.offset_mask_dw.bias",
                    "align.output_proj.weight"}
    # Once the offset/modulation Linear is non-zero (as after a training step), every
    # trainable parameter gets a non-zero gradient.
    saved = [p.detach().clone() for p in model.align.offset_mask.parameters()]
    with torch.no_grad():
        model.align.offset_mask.bias.add_(0.5)
        model.align.offset_mask.weight.normal_(std=0.01)
    try:
        model.zero_grad(set_to_none=True)
        model(batch(vis))["loss"].backward()
        zero = [n for n, p in trainable.items() if p.grad is None or not p.grad.abs().sum() > 0]
        assert zero == []
    finally:
        with torch.no_grad():
            for param, value in zip(model.align.offset_mask.parameters(), saved):
                param.copy_(value)
        model.zero_grad(set_to_none=True)
        model.eval()


def test_frozen_towers_stay_in_eval(tiny):
    model, _ = tiny
    model.train()
    assert not model.vision.training and not model.text_tower.training
    assert not model.language.t5.training and not model.language.t5.model.training
    assert model.resampler.training and model.tagging.training
    assert not model.resampler.query_tokens.requires_grad
    model.eval()


def test_trainable_set_equals_the_release_at_full_size():
    model = build_dynrefer(DynReferConfig(), meta=True, with_tokenizers=False)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    # release-checkpoints.md 1.2: 347 trainable tensors, 122,877,684 values.
    assert len(trainable) == 347
    assert sum(p.numel() for _, p in trainable) == 122_877_684
    assert {group(n) for n, _ in trainable} == TRAINABLE_GROUPS
    # Section 4: ViT 985,894,528 + ln_vision 2,816; T5 2,849,757,184; text tower 123,846,913.
    assert count_parameters(model.vision) == 985_894_528 + 2_816
    assert count_parameters(model.language.t5) == 2_849_757_184
    assert count_parameters(model.text_tower) == 123_846_913
    # Everything but the three cached text tables of the release's 4,087,666,037.
    assert count_parameters(model) == 4_087_666_037 - (4_695_040 + 485_376 + 81_920)


def test_loss_is_the_weighted_sum_and_finite(tiny):
    model, vis = tiny
    model.train()
    losses = model(batch(vis))
    expected = losses["loss_lm"] + 0.64 * losses["loss_tag"] + 0.5 * losses["loss_rtc"]
    assert torch.allclose(losses["loss"], expected)
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()


def test_batch_of_one_without_positive_tags(tiny):
    model, vis = tiny
    model.train()
    samples = batch(vis, 1)
    samples["tags"] = [["not-a-tag"]]
    losses = model(samples)
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    model.eval()


def test_tag_targets_from_names(tiny):
    model, _ = tiny
    targets = model.tag_targets([["red", "car"], [], ["unknown"]], torch.device("cpu"))
    assert targets.shape == (3, len(model.tags))
    assert targets[0].nonzero().flatten().tolist() == sorted(
        [model.tags.index("red"), model.tags.index("car")])
    assert targets[1:].sum() == 0


def test_generation_is_deterministic_and_chunking_does_not_change_it(tiny):
    model, vis = tiny
    samples = batch(vis, 6)
    first = model.predict_answers(samples)
    second = model.predict_answers(samples)
    assert first == second
    chunk = model.config.region_chunk
    object.__setattr__(model.config, "region_chunk", 2)
    try:
        chunked = model.predict_answers(samples)
    finally:
        object.__setattr__(model.config, "region_chunk", chunk)
    assert [r["caption"] for r in chunked] == [r["caption"] for r in first]
    for a, b in zip(chunked, first):
        assert math.isclose(a["score"], b["score"], rel_tol=1e-4)
        assert 0 < a["score"] <= 1
        assert a["tags"] == b["tags"]


def test_zero_regions_give_no_predictions(tiny):
    model, _ = tiny
    samples = {"image": torch.zeros(0, 3, 3, 224, 224), "region_boxes": torch.zeros(0, 3, 4)}
    assert model.predict_answers(samples) == []


def test_attribute_and_class_outputs(tiny):
    model, vis = tiny
    model.set_attributes([{"name": "color:red/reddish", "is_has_att": "has"},
                          {"name": "size:small", "is_has_att": "is"}])
    model.set_classes(["car", "dog", "tree"])
    samples = batch(vis, 2)
    samples.update(id=[7, 8], image_id=[1, 1], bbox=[[0, 0, 1, 1], [0, 0, 2, 2]])
    results = model.predict_answers(samples)
    assert [r["id"] for r in results] == [7, 8] and results[1]["bbox"] == [0, 0, 2, 2]
    assert all(len(r["attr"]) == 2 and len(r["cls"]) == 3 for r in results)
    # attr = max over the attribute's prompts of sigmoid(s), as the release's att_forward
    # writes them (attr_fc(normalize(.)).sigmoid()): no e^t scale, no bias.
    tokens = model.encode_regions(samples["image"], samples["region_boxes"])
    probs = torch.sigmoid(model.contrastive.decoder(tokens, model._table(model.attribute_table)))
    assert not torch.allclose(probs, model.contrastive.probabilities(
        tokens, model._table(model.attribute_table)))
    index = model.attribute_prompts.index_tensor()
    for r, record in enumerate(results):
        for a in range(2):
            assert record["attr"][a] == pytest.approx(probs[r, index == a].max().item(), rel=1e-5)
    # attribute_score: siglip writes the probability the label term trains instead.
    siglip = model.contrastive.probabilities(tokens, model._table(model.attribute_table))
    release_config = model.config
    model.config = dataclasses.replace(release_config, attribute_score="siglip")
    try:
        results = model.predict_answers(samples)
    finally:
        model.config = release_config
    for r, record in enumerate(results):
        for a in range(2):
            assert record["attr"][a] == pytest.approx(siglip[r, index == a].max().item(), rel=1e-5)
    model.attribute_table = model.attribute_prompts = model.class_table = None


def test_forward_names_a_missing_key(tiny):
    model, vis = tiny
    samples = batch(vis, 2)
    del samples["caption"]
    with pytest.raises(KeyError, match="caption"):
        model(samples)


def test_half_precision_towers_match_float32(tiny):
    """fp16 ViT weights and a bf16 T5 (the flant5xl defaults) run under autocast and give the
    float32 results up to half-precision rounding."""
    import copy

    from lavis.models.eva_vit import convert_weights_to_fp16

    model, vis = tiny
    samples = batch(vis, 2)
    half = copy.deepcopy(model)
    convert_weights_to_fp16(half.vision.vit)
    half.language.t5.model.to(torch.bfloat16)
    assert half.vision.vit.blocks[0].attn.qkv.weight.dtype == torch.float16
    with torch.no_grad():
        reference = model.encode_regions(samples["image"], samples["region_boxes"])
        tokens = half.encode_regions(samples["image"], samples["region_boxes"])
    assert tokens.dtype == torch.float32
    assert torch.allclose(tokens, reference, atol=3e-2, rtol=3e-2)
    half.train()
    torch.manual_seed(0)  # the same control-word draw for both
    losses = half(samples)
    model.train()
    torch.manual_seed(0)
    reference_losses = model(samples)
    model.eval()
    assert losses["loss_lm"].dtype == torch.float32
    assert torch.isclose(losses["loss_lm"], reference_losses["loss_lm"], rtol=5e-2)


def test_weights_named_in_yaml_load_in_from_config(tiny, tmp_path):
    from omegaconf import OmegaConf

    from lavis_dynrefer.paths import config_path

    model, _ = tiny
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    torch.save({"model": trainable, "epoch": 0}, tmp_path / "checkpoint_best.pth")
    cfg = OmegaConf.load(config_path("models/dynrefer_tiny.yaml")).model
    cfg.weights = {"checkpoint": str(tmp_path / "checkpoint_best.pth")}
    torch.manual_seed(123)  # a different random init: only the file can make them equal
    loaded = lavis_dynrefer.DynReferModel.from_config(cfg)
    for name, value in trainable.items():
        assert torch.equal(dict(loaded.named_parameters())[name], value), name
    cfg.weights = {"checkpoint": str(tmp_path / "missing.pth")}
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        lavis_dynrefer.DynReferModel.from_config(cfg)
