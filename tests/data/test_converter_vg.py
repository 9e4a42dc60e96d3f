"""Visual Genome converter on a hand-made raw fixture (raw_formats.write_vg_raw)."""

from __future__ import annotations

import json

import pytest
from raw_formats import FIFTEEN_WORDS, open_region_file, read_json, write_json

from lavis_dynrefer.data.converters import vg
from lavis_dynrefer.data.converters.common import ConversionError

NO_PHRASES = vg.VGOptions(phrases=False, image_root="/data/vg/images")

# By hand: XYWH -> XYXY, clipped to the image (image 1 is 100 x 80); region 103 (16 words),
# 104 (starts right of the image) and 106 (only punctuation) are dropped.
TRAIN_ANNOTATIONS = [
    {"id": 1, "image_id": 1, "bbox": [10, 20, 40, 60], "caption": "the small red car on the road",
     "extra_info": {"region_id": 101}},
    {"id": 2, "image_id": 1, "bbox": [90, 70, 100, 80], "caption": "mans tshirt",
     "extra_info": {"region_id": 102}},
    {"id": 3, "image_id": 1, "bbox": [0, 0, 5, 5], "caption": FIFTEEN_WORDS,
     "extra_info": {"region_id": 105}},
    {"id": 4, "image_id": 2, "bbox": [0, 0, 50, 25], "caption": "white clouds in blue sky",
     "extra_info": {"region_id": 201}},
]
TRAIN_IMAGES = [{"id": 1, "file_name": "1.jpg", "width": 100, "height": 80},
                {"id": 2, "file_name": "2.jpg", "width": 50, "height": 50}]


def convert(vg_raw, out_dir, **kwargs):
    return vg.convert(vg_raw["region_descriptions"], vg_raw["image_data"], vg_raw["split_file"],
                      out_dir, **kwargs)


def test_splits_exact_values(vg_raw, tmp_path):
    written = convert(vg_raw, tmp_path / "out", options=NO_PHRASES)
    assert sorted(written) == ["test", "train", "val"]
    train = open_region_file(written["train"])
    assert train["images"] == TRAIN_IMAGES
    assert train["annotations"] == TRAIN_ANNOTATIONS
    assert train["dataset"] == {"description": "visual_genome", "image_root": "/data/vg/images"}
    val = open_region_file(written["val"])
    assert val["images"] == [{"id": 3, "file_name": "3.jpg", "width": 60, "height": 40}]
    assert val["annotations"] == [{"id": 1, "image_id": 3, "bbox": [1, 2, 4, 6],
                                   "caption": "a dog", "extra_info": {"region_id": 301}}]
    # image 4 of the test split is in no VG file: an empty (but valid) file
    test = open_region_file(written["test"])
    assert test["images"] == [] and test["annotations"] == []


def test_phrases_go_to_extra_info(vg_raw, tmp_path):
    written = convert(vg_raw, tmp_path, splits=["train"])
    annotations = read_json(written["train"])["annotations"]
    assert annotations[0]["extra_info"]["phrases"] == [
        "car", "red", "red car", "road", "small", "small red car"]
    assert annotations[3]["extra_info"]["phrases"] == [
        "blue", "blue sky", "cloud", "sky", "white", "white cloud"]


def test_v10_field_names_give_the_same_file(vg_raw, tmp_path):
    """VG v1.0 spells image_data's image_id and the region id as ``id``."""
    image_data = read_json(vg_raw["image_data"])
    for record in image_data:
        record["id"] = record.pop("image_id")
    regions = read_json(vg_raw["region_descriptions"])
    for entry in regions:
        for region in entry["regions"]:
            region["id"] = region.pop("region_id")
    write_json(vg_raw["image_data"], image_data)
    write_json(vg_raw["region_descriptions"], regions)
    written = convert(vg_raw, tmp_path / "v10", splits=["train"], options=NO_PHRASES)
    assert read_json(written["train"])["annotations"] == TRAIN_ANNOTATIONS


def test_vg_coco_filters(vg_raw, tmp_path):
    only_coco = vg.VGOptions(phrases=False, require_coco_id=True)
    written = convert(vg_raw, tmp_path / "a", splits=["train"], options=only_coco)
    assert [image["id"] for image in read_json(written["train"])["images"]] == [1]
    excluded = vg.VGOptions(phrases=False, exclude_coco_ids=frozenset({11}))
    written = convert(vg_raw, tmp_path / "b", splits=["train"], options=excluded)
    data = read_json(written["train"])
    assert [image["id"] for image in data["images"]] == [2]
    assert [ann["id"] for ann in data["annotations"]] == [1]


def test_max_words_and_file_names_are_arguments(vg_raw, tmp_path):
    options = vg.VGOptions(phrases=False, max_words=2, file_name_format="VG_100K/{image_id}.jpg")
    data = read_json(convert(vg_raw, tmp_path, splits=["train"], options=options)["train"])
    assert [ann["caption"] for ann in data["annotations"]] == ["mans tshirt"]
    assert data["images"] == [{"id": 1, "file_name": "VG_100K/1.jpg", "width": 100, "height": 80}]


def test_split_selection(vg_raw, tmp_path):
    written = convert(vg_raw, tmp_path / "out", splits=["val"], options=NO_PHRASES)
    assert list(written) == ["val"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["val.json"]
    with pytest.raises(ConversionError, match="dev"):
        convert(vg_raw, tmp_path, splits=["dev"])


def test_missing_input_is_named(vg_raw, tmp_path, capsys):
    vg_raw["image_data"].unlink()
    with pytest.raises(FileNotFoundError, match="image_data.json"):
        convert(vg_raw, tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        vg.main(["--region-descriptions", str(vg_raw["region_descriptions"]),
                 "--image-data", str(vg_raw["image_data"]),
                 "--split-file", str(vg_raw["split_file"]), "--out-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert str(vg_raw["image_data"]) in capsys.readouterr().err


def test_main_matches_the_function(vg_raw, tmp_path):
    vg.main(["--region-descriptions", str(vg_raw["region_descriptions"]),
             "--image-data", str(vg_raw["image_data"]), "--split-file", str(vg_raw["split_file"]),
             "--out-dir", str(tmp_path / "cli"), "--splits", "train", "--no-phrases",
             "--image-root", "/data/vg/images"])
    cli = read_json(tmp_path / "cli" / "train.json")
    function = read_json(convert(vg_raw, tmp_path / "fn", splits=["train"],
                                 options=NO_PHRASES)["train"])
    assert json.dumps(cli, sort_keys=True) == json.dumps(function, sort_keys=True)


@pytest.mark.parametrize("raw, expected", [
    ("The small red car, on the road.", "the small red car on the road"),
    ("Man's T-shirt!", "mans tshirt"),
    ("caf\u00e9 \u00bd full", "cafe half full"),
    ("  spaced   out  ", "spaced out"),
    ("...", ""),
])
def test_normalize_phrase(raw, expected):
    assert vg.normalize_phrase(raw) == expected
