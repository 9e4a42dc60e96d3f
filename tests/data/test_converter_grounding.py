"""Grounding converters on small made-up files of the public layouts (values by hand)."""

from __future__ import annotations

import json

import pytest
from raw_formats import write_json, write_mdetr_raw, write_refer_raw

from lavis_dynrefer.data.converters import grounding
from lavis_dynrefer.data.converters.common import ConversionError
from lavis_dynrefer.grounding.formats import load_grounding


def test_refer_layout(tmp_path):
    raw = write_refer_raw(tmp_path)
    grounding.main(["refer", "--refs", str(raw["refs"]), "--instances", str(raw["instances"]),
                    "--out-dir", str(tmp_path / "out")])
    train = json.loads((tmp_path / "out" / "train.json").read_text())
    # Ref 0 (annotation 1000, bbox x 10.5 y 20.25 w 100 h 50) has two sentences.
    assert [e["text"] for e in train["expressions"]] == ["the man in yellow coat",
                                                         "a man holding skis"]
    assert all(e["targets"] == [[10.5, 20.25, 110.5, 70.25]] for e in train["expressions"])
    assert {e["image_id"] for e in train["expressions"]} == {10}
    assert [i["id"] for i in train["images"]] == [10]
    # Candidates: every COCO box of image 10 (one here).
    assert train["images"][0]["candidates"] == [[10.5, 20.25, 110.5, 70.25]]
    val = load_grounding(tmp_path / "out" / "val.json")
    # bbox (90, 90, 20, 20) in a 100 x 100 image: clipped to (90, 90, 100, 100).
    assert [(e.text, e.targets) for e in val.expressions] == [
        ("red car on the right", ((90.0, 90.0, 100.0, 100.0),))]


def test_mdetr_caption_layout(tmp_path):
    folder = write_mdetr_raw(tmp_path)
    data = grounding.convert_mdetr(json.loads((folder / "finetune_refcocog_train.json")
                                              .read_text()), "caption")
    assert [(e["image_id"], e["text"], e["targets"]) for e in data["expressions"]] == [
        (5, "the man in yellow coat", [[10.5, 20.25, 110.5, 70.25]]),
        (6, "a man holding skis", [[10.5, 20.25, 110.5, 70.25]])]


def test_mdetr_phrase_layout(tmp_path):
    # A Flickr30k Entities caption: "A man and a dog play with two balls" with the man (one
    # box), the dog (one box) and the two balls (two boxes), as MDETR's separate-GT files.
    caption = "A man and a dog play with two balls"
    data = {"images": [{"id": 1, "file_name": "1.jpg", "width": 100, "height": 80,
                        "caption": caption}],
            "annotations": [
                {"image_id": 1, "bbox": [0, 0, 10, 10], "tokens_positive": [[0, 5]]},
                {"image_id": 1, "bbox": [20, 0, 10, 10], "tokens_positive": [[10, 15]]},
                {"image_id": 1, "bbox": [40, 0, 5, 5], "tokens_positive": [[26, 35]]},
                {"image_id": 1, "bbox": [50, 0, 5, 5], "tokens_positive": [[26, 35]]},
                {"image_id": 1, "bbox": [60, 0, 5, 5], "tokens_positive": []}]}
    out = grounding.convert_mdetr(data, "phrase")
    assert [(e["text"], len(e["targets"]), e["span"]) for e in out["expressions"]] == [
        ("A man", 1, [[0, 5]]), ("a dog", 1, [[10, 15]]), ("two balls", 2, [[26, 35]])]
    data["annotations"][0]["tokens_positive"] = [[30, 99]]
    with pytest.raises(ConversionError, match=r"outside its caption of 35 characters"):
        grounding.convert_mdetr(data, "phrase")


def test_bad_inputs_are_named(tmp_path):
    raw = write_refer_raw(tmp_path)
    with pytest.raises(SystemExit):
        grounding.main(["refer", "--refs", str(raw["refs"]), "--instances",
                        str(raw["instances"]), "--splits", "testA",
                        "--out-dir", str(tmp_path / "o")])
    bad = write_json(tmp_path / "bad.json", {"images": [], "annotations": [
        {"image_id": 3, "bbox": [0, 0, 1, 1]}]})
    with pytest.raises(ConversionError, match="annotation 0: unknown image id 3"):
        grounding.convert_mdetr(json.loads(bad.read_text()), "caption", "bad.json")


def test_ref_zom_refs(tmp_path):
    # Ref-ZOM's refer layout: ann_id a list for "many", source "zero" for no target.
    instances = {"images": [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 50}],
                 "annotations": [{"id": 11, "image_id": 1, "bbox": [0, 0, 10, 10]},
                                 {"id": 12, "image_id": 1, "bbox": [20, 20, 10, 10]}]}
    sentence = [{"sent": "x", "sent_id": 0}]
    refs = [{"ref_id": 1, "ann_id": [11, 12], "image_id": 1, "split": "test",
             "source": "many", "sentences": [{"sent": "the two boxes", "sent_id": 1}]},
            {"ref_id": 2, "ann_id": 11, "image_id": 1, "split": "test", "source": "one",
             "sentences": [{"sent": "the top left box", "sent_id": 2}]},
            {"ref_id": 3, "ann_id": 11, "image_id": 1, "split": "test", "source": "zero",
             "sentences": sentence}]
    out = grounding.convert_refer(refs, instances)["test"]
    assert [(e["text"], e["kind"], e["targets"]) for e in out["expressions"]] == [
        ("the two boxes", "many", [[0, 0, 10, 10], [20, 20, 30, 30]]),
        ("the top left box", "one", [[0, 0, 10, 10]]),
        ("x", "zero", [])]
