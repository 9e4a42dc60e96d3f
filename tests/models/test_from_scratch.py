"""What a model trained without pretrained towers needs (the shapes model): its initialisations,
the region-text label term, which parts are frozen, and control words its caption says."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lavis_dynrefer.models.align import AlignConfig, ViewAlign, centre_modulation_channels
from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.config import DynReferConfig, LanguageConfig
from lavis_dynrefer.models.control_words import control_word_candidates
from lavis_dynrefer.models.language import FrozenT5
from lavis_dynrefer.models.losses import labelled_sigmoid_loss
from lavis_dynrefer.models.region_labels import attribute_targets, class_targets
from lavis_dynrefer.models.vision import sincos_position_embedding
from lavis_dynrefer.typed_config import ConfigError


def test_sincos_position_embedding_by_hand():
    table = sincos_position_embedding(grid=2, width=4)  # one frequency (1) per quarter
    assert table.shape == (1, 5, 4)
    assert torch.equal(table[0, 0], torch.zeros(4))  # the CLS position
    # Row 1, column 0 is patch 2 of the row-major grid, entry 3 after the CLS position:
    # [sin col, cos col, sin row, cos row].
    expected = torch.tensor([math.sin(0), math.cos(0), math.sin(1), math.cos(1)])
    torch.testing.assert_close(table[0, 3], expected)
    assert torch.linalg.vector_norm(table[0, 1:], dim=-1).allclose(torch.full((4,), 2**0.5))
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_position_embedding(2, 6)


def test_sincos_init_is_used_by_the_vit():
    config = DynReferConfig.from_mapping({"vision": {"image_size": 28, "patch_size": 14,
                                                     "width": 8, "depth": 1, "heads": 2,
                                                     "precision": "fp32",
                                                     "position_init": "sincos"}})
    from lavis_dynrefer.models.vision import VisionEncoder

    vit = VisionEncoder(config.vision).vit
    torch.testing.assert_close(vit.pos_embed.data, sincos_position_embedding(2, 8))
    assert vit.pos_embed.requires_grad


def test_lm_head_init_std():
    config = LanguageConfig(d_model=64, d_ff=32, d_kv=8, num_heads=2, num_layers=1,
                            num_decoder_layers=1, vocab_size=2000, precision="fp32",
                            lm_head_init_std=64 ** -0.5)
    torch.manual_seed(0)
    head = FrozenT5(config).model.lm_head.weight
    assert head.std().item() == pytest.approx(64 ** -0.5, rel=0.05)
    default = FrozenT5(LanguageConfig(**{**config.__dict__, "lm_head_init_std": None}))
    assert default.model.lm_head.weight.std().item() == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ConfigError, match="lm_head_init_std"):
        DynReferConfig.from_mapping({"language": {"lm_head_init_std": 0}})


def test_identity_align_starts_as_a_linear_map_of_each_view():
    align = ViewAlign(AlignConfig(width=8, groups=2, init="identity"))
    views = torch.randn(3, 3, 8, 4, 4)
    out = align(views)
    maps = align.output_proj(align.value_proj(views[:, 1:].permute(0, 1, 3, 4, 2)))
    torch.testing.assert_close(out[:, 1:], maps.permute(0, 1, 4, 2, 3))
    torch.testing.assert_close(out[:, 0], views[:, 0])
    # 2 groups x (9 offset pairs + 9 modulations): the centre tap (index 4) of each group.
    assert centre_modulation_channels(2, 3) == [22, 49]
    release = ViewAlign(AlignConfig(width=8, groups=2))
    assert torch.count_nonzero(release(views)[:, 1:]) == 0  # the release's zero start


def test_label_targets_and_loss_by_hand():
    targets = class_targets([3, None, 9], class_ids=[1, 3])
    assert targets.tolist() == [[-1, 1], [0, 0], [0, 0]]  # None and 9 are unknown
    index = torch.tensor([0, 0, 1])  # attribute 0 has two prompts, attribute 1 one
    att = attribute_targets([(1, -1), (0, 1), None], index, 2)
    assert att.tolist() == [[1, 1, 0], [-1, -1, 1], [0, 0, 0]]
    with pytest.raises(ValueError, match="region 0: att_vec has 3 labels"):
        attribute_targets([(1, 0, 1)], index, 2)
    # logits = s * exp(t) + b with t = 0, b = 0: -log sigmoid(+-s) over the known entries.
    sims = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    loss = labelled_sigmoid_loss(sims, torch.tensor(0.0), torch.tensor(0.0),
                                 torch.tensor([[1.0, -1.0], [0.0, -1.0]]))
    expected = -(math.log(1 / (1 + math.exp(-2))) + math.log(1 / (1 + math.exp(-1)))
                 + math.log(1 / (1 + math.exp(3))))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def _tiny(**changes) -> torch.nn.Module:
    from omegaconf import OmegaConf

    from lavis_dynrefer.models.dynrefer import DynReferModel

    cfg = OmegaConf.load(DynReferModel.default_config_path("tiny")).model
    for key, value in changes.items():
        OmegaConf.update(cfg, key, value)
    torch.manual_seed(0)
    return DynReferModel.from_config(cfg)


def test_label_term_trains_the_class_and_attribute_scores(tmp_path):
    import json

    labels = {"categories": [{"id": 5, "name": "circle"}, {"id": 7, "name": "square"}],
              "attributes": [{"id": 0, "name": "color:red", "is_has_att": "has"}]}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    model = _tiny(labels=str(tmp_path / "labels.json"), loss_weight_rtc_labels=2.0)
    assert model.class_ids == [5, 7]
    views = torch.randn(2, 3, 3, 224, 224)
    samples = {"image": views, "region_boxes": torch.tensor([[[0.0, 0, 224, 224]] * 3] * 2),
               "caption": ["a red circle", "a square"], "category_id": [5, 7],
               "att_vec": [(1,), (0,)]}
    model.eval()  # no dropout: the term is recomputed below
    out = model(samples)
    expected = (out["loss_lm"] + 0.64 * out["loss_tag"] + 0.5 * out["loss_rtc"]
                + 2.0 * out["loss_rtc_labels"])
    torch.testing.assert_close(out["loss"], expected)
    # The term by hand: 2 regions x (2 class prompts + 2 "red" prompts), mean over both.
    tokens = model.encode_regions(views, samples["region_boxes"])
    texts = torch.cat([model._table(model.class_table), model._table(model.attribute_table)])
    sims = model.contrastive(tokens, texts)
    logits = sims * model.contrastive.logit_scale.exp() + model.contrastive.logit_bias
    signs = torch.tensor([[1.0, -1, 1, 1], [-1, 1, -1, -1]])
    by_hand = -F.logsigmoid(signs * logits).sum() / (4 * 2)
    torch.testing.assert_close(out["loss_rtc_labels"], by_hand)
    out["loss"].backward()
    assert model.contrastive.logit_bias.grad is not None


def test_label_term_needs_labels():
    model = _tiny(loss_weight_rtc_labels=1.0)
    samples = {"image": torch.randn(1, 3, 3, 224, 224),
               "region_boxes": torch.tensor([[[0.0, 0, 224, 224]] * 3]), "caption": ["a"]}
    with pytest.raises(ValueError, match="needs model.labels"):
        model(samples)


def test_frozen_parts_follow_the_config():
    model = _tiny(frozen=["vision"])
    assert model.vision.locked and not any(p.requires_grad for p in model.vision.parameters())
    assert not model.text_tower.locked and model.resampler.query_tokens.requires_grad
    assert all(p.requires_grad for p in model.language.t5.parameters())
    paper = _tiny()
    assert paper.text_tower.locked and paper.language.t5.locked
    assert not paper.resampler.query_tokens.requires_grad
    with pytest.raises(ConfigError, match="frozen"):
        DynReferConfig.from_mapping({"frozen": ["eyes"]})


def test_control_word_candidates_are_what_the_caption_says():
    caption = "the red circle in the top left corner"
    phrases = ["red circle", "circle", "red", "top left corner"]
    tags = ["red", "circle", "small", "top", "left", "corner"]
    assert control_word_candidates(caption, phrases, tags) == [
        *phrases, "red", "circle", "top", "left", "corner"]  # not "small": the caption omits it
    # Release data: the tags are the caption's phrases, all said.
    assert control_word_candidates("a red car", ["red car", "car"], ["red car", "car"]) == [
        "red car", "car", "red car", "car"]
    assert control_word_candidates("a redcar", [], ["red"]) == []  # whole words only


def test_build_keeps_frozen_parts_out_of_the_optimiser():
    model = build_dynrefer(DynReferConfig.from_mapping(
        {"vision": {"image_size": 28, "width": 8, "depth": 1, "heads": 2, "precision": "fp32"},
         "frozen": []}), meta=True, with_tokenizers=False)
    assert all(p.requires_grad for p in model.vision.parameters())


def test_resampler_diagnostics_by_hand():
    from lavis_dynrefer.models.diagnostics import (
        mean_pairwise_cosine,
        normalized_entropy,
        watch_resampler,
    )

    assert normalized_entropy(torch.full((2, 4), 0.25)).tolist() == pytest.approx([1.0, 1.0])
    assert normalized_entropy(torch.tensor([1.0, 0.0, 0.0])).item() == pytest.approx(0.0)
    rows = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # cos(r0, r1) = 0, cos(r0, r2) = cos(r1, r2) = 1/sqrt(2): mean over 3 pairs.
    assert mean_pairwise_cosine(rows) == pytest.approx(2 / 2**0.5 / 3)
    model = _tiny()
    views = torch.randn(3, 3, 3, 224, 224)
    boxes = torch.tensor([[[0.0, 0, 224, 224]] * 3] * 3)
    with torch.no_grad(), watch_resampler(model.resampler) as stats:
        tokens = model.encode_regions(views, boxes)
    assert 0.0 < stats.attention_entropy() <= 1.0 + 1e-6
    assert stats.token_cosine() == pytest.approx(mean_pairwise_cosine(tokens), rel=1e-6)
    layers = sum(layer.has_cross_attention for layer in model.resampler.qformer.encoder.layer)
    heads = model.resampler.qformer.config.num_attention_heads
    assert stats.entropy_count == 3 * layers * heads * model.config.resampler.num_queries
