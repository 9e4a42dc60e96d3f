"""Numerics the release's weights were trained and evaluated with (issue 16), each checked
against the release's own expression written out here, not against this project's code."""

from __future__ import annotations

import copy

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
