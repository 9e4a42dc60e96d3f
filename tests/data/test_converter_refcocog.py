"""RefCOCOg converter: refer-toolkit layout and MDETR layout on hand-made raw fixtures."""

from __future__ import annotations

import pytest
from raw_formats import open_region_file, read_json

from lavis_dynrefer.data.converters import refcocog
from lavis_dynrefer.data.converters.common import ConversionError

NO_PHRASES = refcocog.RefOptions(phrases=False, image_root="/data/coco/train2014")
TRAIN_FILE = "COCO_train2014_000000000010.jpg"
# By hand: ann 1000 is (10.5, 20.25, 100, 50) XYWH -> (10.5, 20.25, 110.5, 70.25) XYXY;
# ann 2000 (90, 90, 20, 20) on a 100 x 100 image -> (90, 90, 110, 110), clipped: (90, 90, 100, 100).
TRAIN_BOX = [10.5, 20.25, 110.5, 70.25]
VAL_BOX = [90, 90, 100, 100]


def test_refer_layout_exact_values(refer_raw, tmp_path):
    written = refcocog.convert_refer_files(refer_raw["refs"], refer_raw["instances"],
                                           tmp_path / "out", options=NO_PHRASES)
    assert sorted(written) == ["train", "val"]
    train = open_region_file(written["train"])
    # one image entry per expression, ids 1..N per split
    assert train["images"] == [
        {"id": 1, "file_name": TRAIN_FILE, "width": 640, "height": 480},
        {"id": 2, "file_name": TRAIN_FILE, "width": 640, "height": 480},
    ]
    source = {"ref_id": 0, "coco_image_id": 10, "coco_ann_id": 1000, "coco_category_id": 1}
    assert train["annotations"] == [
        {"id": 1, "image_id": 1, "bbox": TRAIN_BOX, "caption": "the man in yellow coat",
         "extra_info": {**source, "sent_id": 0}},
        {"id": 2, "image_id": 2, "bbox": TRAIN_BOX, "caption": "a man holding skis",
         "extra_info": {**source, "sent_id": 1}},
    ]
    assert train["dataset"]["image_root"] == "/data/coco/train2014"
    val = open_region_file(written["val"])
    assert val["annotations"] == [
        {"id": 1, "image_id": 1, "bbox": VAL_BOX, "caption": "red car on the right",
         "extra_info": {"ref_id": 1, "sent_id": 2, "coco_image_id": 20, "coco_ann_id": 2000,
                        "coco_category_id": 3}}]


def test_mdetr_layout_keeps_mdetr_ids(mdetr_raw, tmp_path):
    written = refcocog.convert_mdetr_files(mdetr_raw, tmp_path / "out", splits=["train", "val"],
                                           options=NO_PHRASES)
    train = open_region_file(written["train"])
    assert train["images"] == [
        {"id": 5, "file_name": TRAIN_FILE, "width": 640, "height": 480},
        {"id": 6, "file_name": TRAIN_FILE, "width": 640, "height": 480},
    ]
    source = {"coco_image_id": 10, "coco_ann_id": 1000, "coco_category_id": 1}
    assert train["annotations"] == [
        {"id": 7, "image_id": 5, "bbox": TRAIN_BOX, "caption": "the man in yellow coat",
         "extra_info": {**source, "sent_id": 0}},
        {"id": 8, "image_id": 6, "bbox": TRAIN_BOX, "caption": "a man holding skis",
         "extra_info": {**source, "sent_id": 1}},
    ]
    val = open_region_file(written["val"])
    assert [(a["id"], a["image_id"], a["bbox"], a["caption"]) for a in val["annotations"]] == [
        (11, 9, VAL_BOX, "red car on the right")]


def test_both_layouts_agree_on_regions(refer_raw, mdetr_raw, tmp_path):
    refer = refcocog.convert_refer_files(refer_raw["refs"], refer_raw["instances"],
                                         tmp_path / "refer", options=NO_PHRASES)
    mdetr = refcocog.convert_mdetr_files(mdetr_raw, tmp_path / "mdetr", splits=["train", "val"],
                                         options=NO_PHRASES)
    for split in ("train", "val"):
        a, b = read_json(refer[split]), read_json(mdetr[split])
        assert [(x["bbox"], x["caption"]) for x in a["annotations"]] == \
               [(x["bbox"], x["caption"]) for x in b["annotations"]]


def test_phrases_go_to_extra_info(refer_raw, tmp_path):
    written = refcocog.convert_refer_files(refer_raw["refs"], refer_raw["instances"], tmp_path,
                                           splits=["train"])
    first = read_json(written["train"])["annotations"][0]
    assert first["extra_info"]["phrases"] == ["coat", "man", "yellow", "yellow coat"]


def test_unknown_split_and_missing_files(refer_raw, mdetr_raw, tmp_path, capsys):
    with pytest.raises(ConversionError, match="testB"):
        refcocog.convert_refer_files(refer_raw["refs"], refer_raw["instances"], tmp_path,
                                     splits=["testB"])
    # the fixture has no test split file: the error names it
    with pytest.raises(FileNotFoundError, match="finetune_refcocog_test.json"):
        refcocog.convert_mdetr_files(mdetr_raw, tmp_path)
    refer_raw["instances"].unlink()
    with pytest.raises(SystemExit) as exit_info:
        refcocog.main(["refer", "--refs", str(refer_raw["refs"]),
                       "--instances", str(refer_raw["instances"]), "--out-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert str(refer_raw["instances"]) in capsys.readouterr().err


def test_main_both_layouts(refer_raw, mdetr_raw, tmp_path):
    refcocog.main(["refer", "--refs", str(refer_raw["refs"]), "--instances",
                   str(refer_raw["instances"]), "--out-dir", str(tmp_path / "refer"),
                   "--no-phrases"])
    refcocog.main(["mdetr", "--mdetr-dir", str(mdetr_raw), "--splits", "val",
                   "--out-dir", str(tmp_path / "mdetr_out"), "--no-phrases"])
    assert sorted(p.name for p in (tmp_path / "refer").iterdir()) == ["train.json", "val.json"]
    assert [p.name for p in (tmp_path / "mdetr_out").iterdir()] == ["val.json"]
