"""OVAD and COCO converters (both read the COCO instances layout) on hand-made raw fixtures."""

from __future__ import annotations

import pytest
from raw_formats import open_region_file, read_json, write_json

from lavis_dynrefer.data.converters import coco, ovad
from lavis_dynrefer.data.converters.common import ConversionError


def test_coco_exact_values(coco_raw, tmp_path):
    out = coco.convert_file(coco_raw, tmp_path / "coco.json", image_root="/data/coco/val2017")
    data = open_region_file(out)
    # image 2 has no boxes and is dropped; crowd box 11 is skipped
    assert data["images"] == [{"id": 1, "file_name": "000000000001.jpg", "width": 640,
                               "height": 480}]
    assert data["annotations"] == [
        # 473.07 + 38.65 = 511.72, 395.93 + 28.67 = 424.6 (float noise rounded away)
        {"id": 10, "image_id": 1, "bbox": [473.07, 395.93, 511.72, 424.6], "caption": "",
         "category_id": 18, "extra_info": {}},
        # (600, 400, 100, 100) on 640 x 480 -> (600, 400, 700, 500) clipped to (600, 400, 640, 480)
        {"id": 12, "image_id": 1, "bbox": [600, 400, 640, 480], "caption": "",
         "category_id": 1, "extra_info": {}},
    ]
    assert data["categories"] == [{"id": 1, "name": "person", "supercategory": "person"},
                                  {"id": 18, "name": "dog", "supercategory": "animal"}]
    assert data["dataset"] == {"description": "coco_instances", "image_root": "/data/coco/val2017"}
    assert "attributes" not in data


def test_coco_keep_empty_images_and_main(coco_raw, tmp_path, capsys):
    coco.main(["--instances", str(coco_raw), "--out", str(tmp_path / "all.json"),
               "--keep-empty-images"])
    assert [image["id"] for image in read_json(tmp_path / "all.json")["images"]] == [1, 2]
    with pytest.raises(SystemExit) as exit_info:
        coco.main(["--instances", str(tmp_path / "nope.json"), "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "nope.json" in capsys.readouterr().err


def test_coco_unknown_category_is_an_error(coco_raw):
    data = read_json(coco_raw)
    data["annotations"][0]["category_id"] = 99
    with pytest.raises(ConversionError, match="99"):
        coco.convert(data)


def test_ovad_exact_values(ovad_raw, tmp_path):
    out = ovad.convert_file(ovad_raw, tmp_path / "ovad.json")
    data = open_region_file(out)
    assert data["images"] == [{"id": 100, "file_name": "000000000100.jpg", "width": 100,
                               "height": 50}]
    assert data["annotations"] == [
        {"id": 1, "image_id": 100, "bbox": [0, 0, 10, 10], "caption": "", "category_id": 1,
         "att_vec": [1, 0, -1], "extra_info": {}},
        # (95, 5, 10, 10) on 100 x 50 -> (95, 5, 105, 15) clipped to (95, 5, 100, 15)
        {"id": 3, "image_id": 100, "bbox": [95, 5, 100, 15], "caption": "", "category_id": 18,
         "att_vec": [-1, 1, 0], "extra_info": {}},
    ]
    assert [(a["id"], a["name"], a["freq_set"]) for a in data["attributes"]] == [
        (0, "color:red", "head"), (1, "cleanliness:clean/neat", "medium"),
        (2, "material:wooden/wood", "tail")]
    assert data["attributes"][0]["is_has_att"] == "has"  # other source fields are kept
    assert [c["id"] for c in data["categories"]] == [1, 18]


@pytest.mark.parametrize("break_it, message", [
    (lambda d: d["annotations"][0].update(att_vec=[1, 0]), "att_vec"),
    (lambda d: d["annotations"][0].update(att_vec=[1, 0, 2]), "att_vec"),
    (lambda d: d["attributes"][0].update(id=7), "ids must be 0..2"),
    (lambda d: d["attributes"][0].update(freq_set="rare"), "freq_set"),
    (lambda d: d["annotations"][0].pop("att_vec"), "att_vec"),
])
def test_ovad_rejects_broken_input(ovad_raw, break_it, message):
    data = read_json(ovad_raw)
    break_it(data)
    with pytest.raises(ConversionError, match=message):
        ovad.convert(data)


def test_ovad_main_and_missing_file(ovad_raw, tmp_path, capsys):
    ovad.main(["--ovad", str(ovad_raw), "--out", str(tmp_path / "o.json"), "--image-root", "im"])
    assert read_json(tmp_path / "o.json")["dataset"]["image_root"] == "im"
    write_json(tmp_path / "bad.json", {"images": []})
    with pytest.raises(SystemExit):
        ovad.main(["--ovad", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x.json")])
    assert "attributes" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="ovad2000_missing.json"):
        ovad.convert_file(tmp_path / "ovad2000_missing.json", tmp_path / "y.json")
