"""The tiny DynRefer model's loss and gradients stay finite at the edges of its inputs.

One region (batch size 1), tag targets that are all negative, all outside the vocabulary (so
ignored), or all positive, in float32 and under CPU bf16 autocast.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from PIL import Image

from lavis_dynrefer.paths import asset_path


@pytest.fixture(scope="module")
def tiny():
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    return model, vis


def one_region(vis, tags: list[str]) -> dict:
    views = vis["eval"](Image.open(asset_path("astronaut.jpg")), [[150, 40, 320, 220]])
    return {"image": views.images, "region_boxes": views.boxes, "caption": ["a red car"],
            "tags": [tags], "phrases": [[]]}


def assert_finite_step(model, samples, autocast: bool) -> dict[str, torch.Tensor]:
    """Forward + backward; every loss part and every trainable gradient finite."""
    model.train()
    model.zero_grad(set_to_none=True)
    context = (torch.autocast("cpu", dtype=torch.bfloat16) if autocast
               else contextlib.nullcontext())
    try:
        with context:
            losses = model(samples)
        losses["loss"].backward()
    finally:
        model.eval()
    not_finite = {k: v.item() for k, v in losses.items() if not torch.isfinite(v).all()}
    assert not not_finite, not_finite
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    bad = [n for n, p in trainable if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, bad[:5]
    assert sum(p.grad is not None for _, p in trainable) > 0.9 * len(trainable)
    return losses


@pytest.mark.parametrize("case", ["all_negative", "all_ignored", "all_positive"])
def test_batch_of_one_float32(tiny, case):
    model, vis = tiny
    tags = {"all_negative": [], "all_ignored": ["not-a-tag", "also-not"],
            "all_positive": list(model.tags)}[case]
    samples = one_region(vis, tags)
    targets = model.tag_targets(samples["tags"], torch.device("cpu"))
    assert targets.sum() == (len(model.tags) if case == "all_positive" else 0)
    assert_finite_step(model, samples, autocast=False)


def test_batch_of_one_all_negative_under_bf16_autocast(tiny):
    model, vis = tiny
    losses = assert_finite_step(model, one_region(vis, []), autocast=True)
    assert losses["loss"].dtype == torch.float32  # the weighted sum is accumulated in fp32
