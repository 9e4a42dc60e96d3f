"""Result-file validation: every bad record is named (file, index, id) with the reason."""

from __future__ import annotations

import json

import pytest

from lavis_dynrefer.evaluation.results import (
    ResultFormatError,
    load_results,
    parse_results,
    require_fields,
)

GOOD = {"id": 4, "image_id": 1, "bbox": [1, 2, 3, 4], "caption": "a cat", "score": 0.5,
        "tags": ["cat"], "attr": [0.1, 0.9], "cls": [1, -2.5]}


def test_parse_normalizes():
    (region,) = parse_results([GOOD], "res.json")
    assert region.bbox == (1.0, 2.0, 3.0, 4.0)
    assert (region.id, region.image_id, region.caption, region.score) == (4, 1, "a cat", 0.5)
    assert region.tags == ("cat",) and region.attr == (0.1, 0.9) and region.cls == (1.0, -2.5)
    (bare,) = parse_results([{"image_id": 2, "id": None}], "res.json")
    assert bare.id is None and bare.bbox is None and bare.where == "res.json: record 0"


@pytest.mark.parametrize(("change", "message"), [
    ({"bbox": [1, 2, 3]}, r"record 1 \(id 4\): 'bbox' must be 4 finite numbers"),
    ({"bbox": [1, 2, float("nan"), 4]}, r"'bbox' must be 4 finite numbers"),
    ({"bbox": [50, 10, 20, 30]}, r"reversed box .* an XYWH box \[x, y, w, h\] must be converted"),
    ({"score": float("inf")}, r"'score' must be a finite number"),
    ({"score": True}, r"'score' must be a finite number"),
    ({"caption": 3}, r"'caption' must be a string"),
    ({"tags": "cat"}, r"'tags' must be a list of strings"),
    ({"attr": [0.1, "x"]}, r"'attr' must be a list of finite numbers"),
    ({"cls": None}, r"'cls' must be a list of finite numbers"),
    ({"image_id": "1"}, r"'image_id' must be an integer"),
    ({"id": "4"}, r"res.json: record 1: 'id' must be an integer or null"),
])
def test_bad_records_are_named(change, message):
    with pytest.raises(ResultFormatError, match=message) as info:
        parse_results([GOOD, {**GOOD, **change}], "res.json")
    assert str(info.value).startswith("res.json: record 1")


def test_not_a_list_or_not_objects():
    with pytest.raises(ResultFormatError, match="res.json: must be a JSON list"):
        parse_results({"results": []}, "res.json")
    with pytest.raises(ResultFormatError, match="res.json: record 0: must be an object"):
        parse_results([[1, 2]], "res.json")


def test_require_fields():
    regions = parse_results([GOOD, {"id": 9, "image_id": 1}], "res.json")
    require_fields(regions[:1], ("caption", "score"))
    with pytest.raises(ResultFormatError, match=r"res.json: record 1 \(id 9\): missing 'caption'"):
        require_fields(regions, ("image_id", "caption"))


def test_load_results_file(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([GOOD]))
    assert load_results(path)[0].where == f"{path}: record 0 (id 4)"
    path.write_text("[{")
    with pytest.raises(ResultFormatError, match="not valid JSON"):
        load_results(path)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_results(tmp_path / "nope.json")
