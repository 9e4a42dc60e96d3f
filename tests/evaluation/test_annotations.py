"""Region annotation files: contract layout, release layout variants, and every malformed record."""

from __future__ import annotations

import copy
import json

import pytest

from lavis_dynrefer.data.annotations import (
    AnnotationFormatError,
    load_region_annotations,
    parse_region_annotations,
)

CONTRACT = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
               {"id": 2, "file_name": "b.jpg", "width": 50, "height": 50}],
    "annotations": [
        {"id": 10, "image_id": 1, "bbox": [0, 5, 40, 80], "caption": "a red car",
         "category_id": 3, "att_vec": [1, 0, -1], "extra_info": {"source": "vg"}},
        {"id": 11, "image_id": 1, "bbox": [10.5, 0, 100, 20.25], "caption": "sky",
         "category_id": 4, "att_vec": [0, 0, 1]},
    ],
    "categories": [{"id": 3, "name": "car"}, {"id": 4, "name": "sky"}],
    "attributes": [{"id": 0, "name": "color:red", "freq_set": "head"},
                   {"id": 1, "name": "material:metal/metallic", "freq_set": "medium"},
                   {"id": 2, "name": "state:wet", "freq_set": "tail"}],
    "dataset": {"image_root": "/data/vg/images", "name": "vg"},
}


def test_contract_layout_is_normalized():
    gt = parse_region_annotations(copy.deepcopy(CONTRACT), "gt.json")
    first, second = gt.annotations
    assert first.bbox == (0.0, 5.0, 40.0, 80.0) and isinstance(first.bbox[0], float)
    assert second.bbox == (10.5, 0.0, 100.0, 20.25)
    assert (first.caption, first.category_id, first.att_vec) == ("a red car", 3, (1, 0, -1))
    assert first.extra_info == {"source": "vg"} and second.extra_info == {}
    assert [c.name for c in gt.categories] == ["car", "sky"]
    assert gt.attributes[1].type == "material"
    assert gt.attributes[1].synonyms == ("metal", "metallic")
    assert gt.image_root == "/data/vg/images"
    # Every image is a key, the one without annotations too.
    assert {k: [a.id for a in v] for k, v in gt.annotations_by_image.items()} == {1: [10, 11],
                                                                                 2: []}


def test_optional_fields_default():
    gt = parse_region_annotations(
        {"images": [{"id": 1, "file_name": "a", "width": 9, "height": 9}],
         "annotations": [{"id": 0, "image_id": 1, "bbox": [1, 1, 2, 2]}]}, "gt.json")
    ann = gt.annotations[0]
    assert (ann.caption, ann.category_id, ann.att_vec, ann.extra_info) == ("", None, None, {})
    assert (gt.categories, gt.attributes, gt.image_root) == ((), (), None)


def test_release_layout_variants():
    """The DynRefer release's converted files, unchanged: attrs, ovad_result, coco_result,
    segmentation-only boxes."""
    release = {
        "images": [{"id": 7, "file_name": "c.jpg", "width": 64, "height": 48}],
        "annotations": [
            # polygon (x, y pairs): x in {10, 30, 25}, y in {20, 5, 40} -> box (10, 5, 30, 40)
            {"id": 1, "image_id": 7, "caption": "", "segmentation": [[10, 20, 30, 5, 25, 40]],
             "extra_info": {"ovad_result": {"att_vec": [1, -1]},
                            "coco_result": {"category_id": 2}}},
            # two polygons: union of extents -> (0, 0, 30, 30)
            {"id": 2, "image_id": 7, "segmentation": [[0, 0, 5, 0, 5, 5], [20, 20, 30, 20, 30, 30]],
             "extra_info": {"ovad_result": {"att_vec": [0.0, 1.0]},
                            "coco_result": {"category": "dog"}}},
            # uncompressed RLE of a 4x5 (h x w) mask with rows 1-2, cols 2-3 set, column-major
            # counts: 9 zeros, 2 ones, 2 zeros, 2 ones, 5 zeros -> XYWH (2, 1, 2, 2) -> (2, 1, 4, 3)
            {"id": 3, "image_id": 7, "segmentation": {"size": [4, 5], "counts": [9, 2, 2, 2, 5]}},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "attrs": [{"id": 0, "name": "color:red", "freq_set": "head", "type": "color"},
                  {"id": 1, "name": "cleanliness:clean/neat", "freq_set": "tail"}],
        "dataset": {"image_root": "data/coco2017/val2017"},
    }
    gt = parse_region_annotations(release, "release.json")
    assert [a.bbox for a in gt.annotations] == [(10.0, 5.0, 30.0, 40.0), (0.0, 0.0, 30.0, 30.0),
                                                (2.0, 1.0, 4.0, 3.0)]
    assert [a.att_vec for a in gt.annotations] == [(1, -1), (0, 1), None]
    assert [a.category_id for a in gt.annotations] == [2, 2, None]
    assert [a.freq_set for a in gt.attributes] == ["head", "tail"]
    assert gt.image_root == "data/coco2017/val2017"


def _mutated(path: tuple, value=None, delete: bool = False) -> dict:
    data = copy.deepcopy(CONTRACT)
    target = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


ANN0 = "annotation id 10 (annotations[0])"
MALFORMED = [
    # (mutation path, new value or DELETE, names the record, says why)
    (("annotations", 0, "image_id"), "DELETE", ANN0, "missing key 'image_id'"),
    (("annotations", 0, "bbox"), "DELETE", ANN0, "missing key 'bbox'"),
    (("annotations", 0, "id"), "DELETE", "annotations[0]", "missing key 'id'"),
    (("annotations", 0, "id"), "10", "annotations[0]", "'id' must be an integer"),
    (("annotations", 0, "caption"), ["a", "car"], ANN0, "'caption' must be a string"),
    (("annotations", 0, "extra_info"), "x", ANN0, "'extra_info' must be an object"),
    (("annotations", 0, "image_id"), 99, ANN0, "unknown image_id 99"),
    (("annotations", 1, "id"), 10, "annotation id 10 (annotations[1])",
     "duplicate id 10 (already used by annotation id 10 (annotations[0]))"),
    (("annotations", 0, "bbox"), [0, 5, 101, 80], ANN0, "outside its 100x80 image"),
    (("annotations", 0, "bbox"), [-1, 5, 40, 80], ANN0, "outside its 100x80 image"),
    (("annotations", 0, "bbox"), [0, 5, 40, float("nan")], ANN0, "must be finite"),
    (("annotations", 0, "bbox"), [0, 5, 40], ANN0, "'bbox' must be 4 numbers"),
    (("annotations", 0, "bbox"), [0, 5, 0, 80], ANN0, "empty box"),
    # An XYWH box [x=50, y=10, w=20, h=30] read as XYXY has x2 < x1: impossible, so say XYWH.
    (("annotations", 0, "bbox"), [50, 10, 20, 30], ANN0,
     "looks like XYWH [x, y, w, h], which must be converted to XYXY [50, 10, 70, 40]"),
    (("annotations", 0, "att_vec"), [1, 2, 0], ANN0, "'att_vec' must be a list of 1 / 0 / -1"),
    (("annotations", 0, "att_vec"), [1, 0], ANN0, "'att_vec' has 2 labels but the file has 3"),
    (("annotations", 0, "category_id"), 5, ANN0, "unknown category_id 5"),
    (("annotations", 0, "segmentation"), [[1, 2, 3]], ANN0, "polygon must be x, y pairs"),
    (("images", 0, "width"), "100", "image id 1 (images[0])", "'width' must be an integer"),
    (("images", 0, "height"), 0, "image id 1 (images[0])", "image size must be positive"),
    (("images", 1, "id"), 1, "image id 1 (images[1])", "duplicate id 1"),
    (("images", 0, "file_name"), "DELETE", "image id 1 (images[0])", "missing key 'file_name'"),
    (("attributes", 2, "freq_set"), "rare", "attribute id 2 (attributes[2])",
     "'freq_set' must be one of"),
    (("attributes", 0, "name"), "red", "attribute id 0 (attributes[0])", "'type:syn1/syn2'"),
    (("categories", 1, "id"), 3, "category id 3 (categories[1])", "duplicate id 3"),
    (("annotations",), "DELETE", "top level", "missing key 'annotations'"),
    (("images",), {}, "top level", "'images' must be a list"),
]


@pytest.mark.parametrize(("path", "value", "record", "reason"), MALFORMED,
                         ids=[f"{'.'.join(map(str, m[0]))}={m[1]!r}"[:60] for m in MALFORMED])
def test_malformed_record_names_file_record_and_reason(path, value, record, reason):
    data = _mutated(path, delete=True) if value == "DELETE" else _mutated(path, value)
    if path[-1] == "segmentation":
        del data["annotations"][0]["bbox"]
    with pytest.raises(AnnotationFormatError) as info:
        parse_region_annotations(data, "gt.json")
    message = str(info.value)
    assert message.startswith(f"gt.json: {record}: "), message
    assert reason in message
    assert isinstance(info.value, ValueError)


def test_release_category_name_must_exist():
    data = copy.deepcopy(CONTRACT)
    del data["annotations"][0]["category_id"]
    data["annotations"][0]["extra_info"] = {"coco_result": {"category": "zebra"}}
    with pytest.raises(AnnotationFormatError, match=r"gt.json: annotation id 10 .*'zebra'"):
        parse_region_annotations(data, "gt.json")


def test_attributes_and_attrs_must_agree():
    data = copy.deepcopy(CONTRACT)
    data["attrs"] = data["attributes"][:2]
    with pytest.raises(AnnotationFormatError, match="both 'attributes' and 'attrs'"):
        parse_region_annotations(data, "gt.json")


def test_file_reader_names_the_path(tmp_path):
    good = tmp_path / "split.json"
    good.write_text(json.dumps(CONTRACT))
    assert len(load_region_annotations(good).annotations) == 2

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_mutated(("annotations", 1, "image_id"), 5)))
    with pytest.raises(AnnotationFormatError) as info:
        load_region_annotations(bad)
    assert str(info.value).startswith(f"{bad}: annotation id 11 (annotations[1]): unknown image")

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(AnnotationFormatError, match=f"{broken}: not valid JSON"):
        load_region_annotations(broken)

    missing = tmp_path / "missing.json"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_region_annotations(missing)
