"""Grounded captions: noun-phrase spans (by hand) and each phrase's best candidate."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import lavis_dynrefer  # noqa: F401  (registers the model with LAVIS)
from lavis_dynrefer.grounding.captions import ground_caption, noun_phrase_spans
from lavis_dynrefer.paths import asset_path


@pytest.mark.parametrize("caption, phrases", [
    ("the blue shape above the small blue shape", ["the blue shape", "the small blue shape"]),
    ("the dotted square right of the outlined pink shape",
     ["the dotted square", "the outlined pink shape"]),
    ("the red cross below the star", ["the red cross", "the star"]),
    ("one of four circles", ["four circles"]),
    ("a man riding a brown horse on the beach", ["a man", "a brown horse", "the beach"]),
    ("a dog in front of the red car", ["a dog", "the red car"]),
    ("people cross the street", ["people", "the street"]),
    ("the man is walking", ["the man"]),
    ("", []),
])
def test_noun_phrase_spans(caption, phrases):
    spans = noun_phrase_spans(caption)
    assert [s.text for s in spans] == phrases
    assert all(caption[s.start:s.end] == s.text for s in spans)


def test_each_phrase_gets_its_best_candidate():
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    boxes = [[150, 40, 320, 220], [10, 10, 200, 300], [300, 200, 500, 380]]
    views = vis["eval"](Image.open(asset_path("astronaut.jpg")), boxes)
    samples = {"image": views.images, "region_boxes": views.boxes}
    caption = "a man holding a white flag"
    out = ground_caption(model, samples, boxes, caption)
    assert [o["phrase"] for o in out] == ["a man", "a white flag"]
    assert out[1]["span"] == [14, 26] and caption[14:26] == "a white flag"
    grounded = model.ground(samples, ["a man", "a white flag"])
    for o, g in zip(out, grounded):
        best = max(range(3), key=lambda i: g["scores"][i])
        assert (o["index"], o["box"]) == (best, boxes[best])
        assert o["score"] == pytest.approx(g["scores"][best], rel=1e-6)
