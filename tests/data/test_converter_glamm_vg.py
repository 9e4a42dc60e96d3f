"""GLaMM's VG region-captioning test set (one COCO "image" per region, XYWH boxes) -> the vg_reg
region file, on a hand-made file in GLaMM's layout; then scored by the metrics command."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from raw_formats import open_region_file, write_json

from lavis_dynrefer.data.converters import glamm_vg
from lavis_dynrefer.data.converters.common import ConversionError

# GLaMM's test_caption.json layout: an "image" per region, its id = the annotation's.
GLAMM = {
    "images": [{"id": 1, "file_name": "2345.jpg", "height": 100, "width": 200},
               {"id": 2, "file_name": "2345.jpg", "height": 100, "width": 200},
               {"id": 3, "file_name": "street.jpg", "height": 50, "width": 50},
               {"id": 4, "file_name": "2345.jpg", "height": 100, "width": 200}],
    "annotations": [
        {"id": 1, "image_id": 1, "bbox": [10, 20, 30, 40], "caption": "a red car "},
        {"id": 2, "image_id": 2, "bbox": [190, 90, 20, 20], "caption": "white sign"},
        {"id": 3, "image_id": 3, "bbox": [0, 0, 5, 5], "description": "a lamp post"},
        {"id": 4, "image_id": 4, "bbox": [300, 0, 5, 5], "caption": "off the image"},
    ],
}


def test_exact_values(tmp_path):
    out = glamm_vg.convert_file(write_json(tmp_path / "test_caption.json", GLAMM),
                                tmp_path / "test.json", image_root="data/vg/images")
    data = open_region_file(out)
    # regions of one VG image share its record, id = the VG id of 2345.jpg; the other is next
    assert data["images"] == [
        {"id": 2345, "file_name": "2345.jpg", "width": 200, "height": 100},
        {"id": 2346, "file_name": "street.jpg", "width": 50, "height": 50}]
    assert data["annotations"] == [
        {"id": 1, "image_id": 2345, "bbox": [10, 20, 40, 60], "caption": "a red car",
         "extra_info": {"glamm_image_id": 1}},
        {"id": 2, "image_id": 2345, "bbox": [190, 90, 200, 100], "caption": "white sign",
         "extra_info": {"glamm_image_id": 2}},  # clipped to the image
        {"id": 3, "image_id": 2346, "bbox": [0, 0, 5, 5], "caption": "a lamp post",
         "extra_info": {"glamm_image_id": 3}},
    ]  # annotation 4 lies off its image: dropped
    assert data["dataset"] == {"description": "glamm_vg_test", "image_root": "data/vg/images"}


def test_sizes_from_the_images_when_the_file_lacks_them(tmp_path):
    raw = json.loads(json.dumps(GLAMM))
    for entry in raw["images"]:
        del entry["width"], entry["height"]
    Image.new("RGB", (200, 100)).save(tmp_path / "2345.jpg")
    Image.new("RGB", (50, 50)).save(tmp_path / "street.jpg")
    out = glamm_vg.convert_file(write_json(tmp_path / "raw.json", raw), tmp_path / "t.json",
                                image_root=str(tmp_path))
    assert [(i["width"], i["height"]) for i in open_region_file(out)["images"]] == [
        (200, 100), (50, 50)]
    with pytest.raises(ConversionError, match="has no width/height; give --image-root"):
        glamm_vg.convert(raw)


def test_results_with_glamm_ids_score(tmp_path, capsys, monkeypatch):
    from fake_caption_scores import overlap

    import lavis_dynrefer.evaluation.region_caption as region_caption
    from lavis_dynrefer.evaluation.__main__ import main as metrics

    monkeypatch.setattr(region_caption, "coco_caption_scores", lambda gts, res: {
        "METEOR": sum(overlap(res[k], gts[k]) for k in gts) / len(gts),
        "CIDEr": 0.0, "BLEU_4": 0.0, "ROUGE_L": 0.0})
    glamm_vg.main(["--glamm", str(write_json(tmp_path / "raw.json", GLAMM)),
                   "--out", str(tmp_path / "test.json")])
    results = [{"id": 1, "image_id": 2345, "bbox": [10, 20, 40, 60], "caption": "a red car"},
               {"id": 2, "image_id": 2345, "bbox": [190, 90, 200, 100], "caption": "sign"},
               {"id": 3, "image_id": 2346, "bbox": [0, 0, 5, 5], "caption": "a lamp post"}]
    capsys.readouterr()
    assert metrics(["region_caption", "--gt", str(tmp_path / "test.json"), "--results",
                    str(write_json(tmp_path / "r.json", results))]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["METEOR"] == pytest.approx(100 * (1 + 2 / 3 + 1) / 3)


@pytest.mark.parametrize("change, fragment", [
    (lambda d: d["annotations"][0].pop("caption"), "no 'caption'"),
    (lambda d: d["annotations"][0].update(image_id=99), "image_id 99 is not in 'images'"),
    (lambda d: d.pop("images"), "missing field(s) ['images']"),
])
def test_bad_files_are_named(change, fragment):
    raw = json.loads(json.dumps(GLAMM))
    change(raw)
    with pytest.raises(ConversionError, match=fragment.replace("(", r"\(").replace(
            ")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        glamm_vg.convert(raw)
