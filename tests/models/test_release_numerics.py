"""Numerics the release's weights were trained and evaluated with (issue 16), each checked
against the release's own expression written out here, not against this project's code."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

import lavis_dynrefer  # noqa: F401  (registers the model with LAVIS)


@pytest.fixture(scope="module")
def tiny():
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    return model, vis


def test_t5_inputs_stay_float32_with_a_bf16_t5(tiny):
    """The release's llm_forward, under its bf16 autocast: ``inputs_t5 = t5_proj(embeds)``
    (bf16), ``control_embeds = embed_tokens(ids) + cem_memory`` (bf16 + fp32 -> fp32), and
    ``torch.cat([inputs_t5, control_embeds], 1)`` promotes to fp32."""
    model, _ = tiny
    language = copy.deepcopy(model.language)
    language.t5.model.to(torch.bfloat16)
    with torch.no_grad():
        language.memory.normal_(std=0.3)  # a trained memory: fp32 values bf16 cannot hold
        tokens = torch.randn(2, 4, model.config.resampler.width)
        control = ["red car|", ""]
        inputs, mask = language.encoder_inputs(tokens, control)
        ids = language.tokenizer(control, padding="longest", return_tensors="pt").input_ids
        with torch.autocast("cpu", dtype=torch.bfloat16):
            inputs_t5 = language.proj(tokens)
            control_embeds = language.t5.model.encoder.embed_tokens(ids) + language.memory
            release = torch.cat([inputs_t5, control_embeds], dim=1)
    assert inputs_t5.dtype == torch.bfloat16 and release.dtype == torch.float32
    assert inputs.dtype == torch.float32
    assert torch.equal(inputs, release)
    assert mask.shape == release.shape[:2]
    # The fp32 memory survives: a bf16 input would have rounded it away.
    assert not torch.equal(release[:, 4:], release[:, 4:].bfloat16().float())


def bf16_round(values) -> np.ndarray:
    """float32 -> nearest bfloat16 (ties to even), by bits: the upper 16 bits of the float32."""
    bits = np.atleast_1d(np.asarray(values, np.float32)).view(np.uint32).astype(np.uint64)
    half, one = np.uint64(0x7FFF), np.uint64(1)
    rounded = ((bits + half + ((bits >> np.uint64(16)) & one)) >> np.uint64(16)) << np.uint64(16)
    out = rounded.astype(np.uint32).view(np.float32)
    return out if np.ndim(values) else out[0]


@pytest.mark.parametrize("threshold, effective", [
    (0.7, 0.701171875), (0.76, 0.763671875), (0.8, 0.802734375)])
def test_bf16_tag_threshold_is_the_releases(threshold, effective):
    """bf16(0.7) = 0.69921875 and the next bf16 is 0.703125: a float32 probability is kept when
    it rounds above bf16(threshold), i.e. from the midpoint 0.701171875 on."""
    from lavis_dynrefer.models.head_precision import above_threshold

    step = 2.0 ** -8  # bf16 spacing in [0.5, 1)
    assert bf16_round(threshold) + step / 2 == effective
    # Probabilities held in bf16 (the release's sigmoid output) against the float threshold.
    probs = torch.tensor([effective - 1e-4, effective + 1e-4, threshold + 1e-4])
    assert above_threshold(probs.bfloat16(), threshold).tolist() == [False, True, False]
    assert above_threshold(probs, threshold).tolist() == [True, True, True]  # float32


def test_bf16_sigmoid_of_bf16_logits():
    """The release's logits are bf16 (tag_fc under autocast) and so is their sigmoid."""
    from lavis_dynrefer.models.head_precision import head_sigmoid

    logits = torch.linspace(-3, 3, 2001)
    ours = head_sigmoid(logits, "bf16")
    assert ours.dtype == torch.bfloat16
    x = bf16_round(logits.numpy())
    expected = bf16_round(1 / (1 + np.exp(-x, dtype=np.float32)))
    np.testing.assert_array_equal(ours.float().numpy(), expected)
    assert head_sigmoid(logits, "fp32").dtype == torch.float32


def test_predict_answers_reads_the_heads_out_in_bf16(tiny):
    model, vis = tiny
    bf16_model = copy.copy(model)
    bf16_model.config = dataclasses.replace(model.config, head_precision="bf16",
                                            tag_threshold=0.5)
    bf16_model.set_attributes([{"name": "color:red/reddish", "is_has_att": "has"},
                               {"name": "size:small", "is_has_att": "is"}])
    bf16_model.set_classes(["car", "dog", "tree"])
    from PIL import Image

    from lavis_dynrefer.paths import asset_path

    views = vis["eval"](Image.open(asset_path("astronaut.jpg")),
                        [[150, 40, 320, 220], [10, 10, 200, 300], [300, 200, 500, 380]])
    samples = {"image": views.images, "region_boxes": views.boxes}
    try:
        results = bf16_model.predict_answers(samples, all_tag_scores=True)
        with torch.no_grad():
            tokens = bf16_model.encode_regions(views.images, views.boxes)
            logits = bf16_model.tagging(tokens, bf16_model._table(bf16_model.tag_table))
            sims = bf16_model.contrastive(tokens, bf16_model._table(bf16_model.class_table))
    finally:
        bf16_model.attribute_table = bf16_model.attribute_prompts = None
        bf16_model.class_table = None
    x = bf16_round(logits.numpy())
    probs = bf16_round(1 / (1 + np.exp(-x, dtype=np.float32)))
    for r, record in enumerate(results):
        expected = {model.tags[k] for k in np.nonzero(probs[r] > bf16_round(0.5))[0]}
        assert set(record["tags"]) == expected
        np.testing.assert_array_equal(record["tag_probs"], probs[r])
        for value in [*record["attr"], *record["cls"], *record["tag_scores"]]:
            assert bf16_round(value) == np.float32(value)  # bf16 values, as the release writes
        np.testing.assert_array_equal(record["cls"], bf16_round(sims[r].numpy()))
