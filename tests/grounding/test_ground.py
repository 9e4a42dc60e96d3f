"""model.ground: per text, every candidate's SigLIP probability and the matching regions."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from PIL import Image

import lavis_dynrefer  # noqa: F401  (registers the model with LAVIS)
from lavis_dynrefer.grounding.scores import matches
from lavis_dynrefer.paths import asset_path


@pytest.fixture(scope="module")
def tiny():
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    views = vis["eval"](Image.open(asset_path("astronaut.jpg")),
                        [[150, 40, 320, 220], [10, 10, 200, 300], [300, 200, 500, 380]])
    return model, {"image": views.images, "region_boxes": views.boxes}


def test_scores_are_the_siglip_probability(tiny):
    model, samples = tiny
    texts = ["a red car", "the astronaut", "a flag"]
    out = model.ground(samples, texts, threshold=0.5)
    with torch.no_grad():
        tokens = model.encode_regions(samples["image"], samples["region_boxes"])
        sims = model.contrastive.decoder(tokens, model.embed_texts(texts))  # [R, T]
        expected = torch.sigmoid(sims * model.contrastive.logit_scale.exp()
                                 + model.contrastive.logit_bias)
    assert len(out) == 3
    for t, record in enumerate(out):
        assert record["scores"] == pytest.approx(expected[:, t].tolist(), rel=1e-5)


def test_matches_follow_the_threshold(tiny):
    model, samples = tiny
    scores = model.ground(samples, ["the astronaut"], threshold=0.5)[0]["scores"]
    middle = sorted(scores)[1]
    # A threshold at the middle score keeps it and the best one, best first.
    kept = model.ground(samples, ["the astronaut"], threshold=middle)[0]["matches"]
    assert kept == sorted([i for i, s in enumerate(scores) if s >= middle],
                          key=lambda i: -scores[i])
    assert len(kept) == 2
    assert model.ground(samples, ["the astronaut"], threshold=max(scores) + 1e-6)[0][
        "matches"] == []
    # The default is the config's threshold.
    model.config = dataclasses.replace(model.config, grounding_threshold=middle)
    try:
        assert model.ground(samples, ["the astronaut"])[0]["matches"] == kept
    finally:
        model.config = dataclasses.replace(model.config, grounding_threshold=0.5)


def test_the_relative_threshold_keeps_the_regions_near_the_best(tiny):
    assert matches([0.2, 0.9, 0.6, 0.9], 0.5, relative=0.7) == [1, 3]  # 0.6 < 0.7 x 0.9
    assert matches([0.2, 0.9, 0.6, 0.9], 0.5, relative=0.6) == [1, 3, 2]  # 0.6 >= 0.54
    assert matches([0.04, 0.03], 0.05, relative=0.6) == []  # the absolute floor still holds
    model, samples = tiny
    scores = model.ground(samples, ["the astronaut"], threshold=1e-6)[0]["scores"]
    ranked = sorted(scores, reverse=True)
    # Halfway between the second score's and the best score's ratio: only the best is kept.
    relative = (ranked[1] / ranked[0] + 1.0) / 2
    model.config = dataclasses.replace(model.config, grounding_relative=relative)
    try:
        kept = model.ground(samples, ["the astronaut"], threshold=1e-6)[0]["matches"]
    finally:
        model.config = dataclasses.replace(model.config, grounding_relative=0.0)
    assert kept == [scores.index(ranked[0])]


def test_chunks_do_not_change_scores(tiny):
    model, samples = tiny
    whole = model.ground(samples, ["a flag", "a helmet"])
    model.config = dataclasses.replace(model.config, region_chunk=1)
    try:
        chunked = model.ground(samples, ["a flag", "a helmet"])
    finally:
        model.config = dataclasses.replace(model.config, region_chunk=64)
    for a, b in zip(whole, chunked):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-6)


def test_one_string_is_refused(tiny):
    model, samples = tiny
    with pytest.raises(TypeError, match="list of expressions"):
        model.ground(samples, "the astronaut")
    assert model.ground(samples, []) == []
