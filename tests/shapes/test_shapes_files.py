"""The generated files: the region format, images that match their boxes, OVAD-style attributes."""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from lavis_dynrefer.data.annotations import load_region_annotations
from lavis_dynrefer.data.tag_list import load_tag_list
from lavis_dynrefer.shapes.facts import HIDDEN_BELOW
from lavis_dynrefer.shapes.render import TINT


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_loads_with_the_validator_and_the_coco_api(shapes_dir: Path, split: str,
                                                   split_counts: dict[str, int]):
    path = shapes_dir / f"{split}_regions.json"
    loaded = load_region_annotations(path)
    assert len(loaded.images) == split_counts[split]
    assert all(3 <= len(anns) <= 7 for anns in loaded.annotations_by_image.values())
    assert [c.name for c in loaded.categories][:3] == ["circle", "square", "triangle"]
    assert all(ann.caption and ann.category_id and ann.att_vec for ann in loaded.annotations)
    assert loaded.image_root == "images"
    for image in loaded.images:
        with Image.open(shapes_dir / loaded.image_root / image.file_name) as picture:
            assert picture.size == (image.width, image.height) == (224, 224)
            assert picture.mode == "RGB"
    with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints its progress
        coco = COCO(str(path))
    assert len(coco.getAnnIds()) == len(loaded.annotations)
    assert sorted(coco.getCatIds()) == [c.id for c in loaded.categories]


def test_side_files(shapes_dir: Path):
    tags = load_tag_list(shapes_dir / "tags.txt")
    assert {"red", "circle", "small", "striped", "corner"} <= set(tags)
    assert not {"largest", "shape"} & set(tags)  # relative or naming words, not facts
    vocab = (shapes_dir / "vocab.txt").read_text().splitlines()
    assert len(vocab) == len(set(vocab)) and set(tags) <= set(vocab)
    readme = (shapes_dir / "README.txt").read_text()
    assert "image_root" in readme and "att_vec" in readme and "category_id" in readme


def _boxes_and_facts(shapes_files, split="train"):
    data = shapes_files[split]
    files = {image["id"]: image["file_name"] for image in data["images"]}
    for ann in data["annotations"]:
        yield files[ann["image_id"]], ann


def test_boxes_are_xyxy_inside_the_image(annotations):
    for ann in annotations:
        x1, y1, x2, y2 = ann["bbox"]
        assert 0 <= x1 < x2 <= 224 and 0 <= y1 < y2 <= 224
        cx, cy = ann["extra_info"]["center"]
        assert x1 <= cx <= x2 and y1 <= cy <= y2


def test_unoccluded_objects_fill_their_box_exactly(shapes_dir: Path, shapes_files):
    """The pixels in the object's colours (its own or its tint) touch all four box edges."""
    checked = Counter()
    for file_name, ann in _boxes_and_facts(shapes_files):
        info = ann["extra_info"]
        if info["visible"] < 1.0:
            continue
        picture = np.asarray(Image.open(shapes_dir / "images" / file_name))
        x1, y1, x2, y2 = ann["bbox"]
        crop = picture[y1:y2, x1:x2].astype(np.int64)
        rgb = np.array(info["rgb"])
        tint = np.round(rgb * (1 - TINT) + 255 * TINT)
        own = (crop == rgb).all(-1) | ((crop == tint).all(-1) & (info["fill"] != "solid"))
        rows, cols = np.flatnonzero(own.any(1)), np.flatnonzero(own.any(0))
        assert (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1) == (0, 0, y2 - y1, x2 - x1), ann
        if info["fill"] == "solid":
            # the whole shape is painted in one colour: a large share of the box
            assert own.mean() > 0.25, ann
        checked[info["fill"]] += 1
    assert checked["solid"] >= 5 and len(checked) >= 3


def test_attribute_vectors(shapes_files):
    attributes = shapes_files["train"]["attributes"]
    names = [a["name"] for a in attributes]
    assert all(":" in name for name in names) and len(set(names)) == len(names)
    assert [a["id"] for a in attributes] == list(range(len(attributes)))
    assert {a["freq_set"] for a in attributes} == {"head", "medium", "tail"}
    assert {a["is_has_att"] for a in attributes} == {"is", "has"}
    for data in shapes_files.values():
        assert data["attributes"] == attributes  # one attribute list for every split
    labels = np.array([ann["att_vec"] for ann in shapes_files["train"]["annotations"]])
    assert labels.shape[1] == len(attributes)
    assert set(np.unique(labels)) == {-1, 0, 1}
    assert 0.02 < (labels == -1).mean() < 0.15
    positives = (labels == 1).sum(0)
    by_set = {s: [positives[a["id"]] for a in attributes if a["freq_set"] == s]
              for s in ("head", "medium", "tail")}
    assert min(by_set["head"]) >= max(by_set["medium"]) >= 0
    assert min(by_set["medium"]) >= max(by_set["tail"])


def test_attribute_labels_agree_with_the_facts(annotations, shapes_files):
    index = {a["name"]: a["id"] for a in shapes_files["train"]["attributes"]}
    for ann in annotations:
        info, vec = ann["extra_info"], ann["att_vec"]
        color = next(i for name, i in index.items() if name.split(":")[1].split("/")[0]
                     == info["color"] and name.startswith("color:"))
        assert vec[color] in (1, -1)
        others = [i for name, i in index.items() if name.startswith("color:") and i != color]
        assert all(vec[i] in (0, -1) for i in others)
        if info["visible"] < HIDDEN_BELOW:
            assert all(vec[i] == -1 for name, i in index.items() if name.startswith("pattern:"))


def test_categories_are_the_shape_classes(shapes_files):
    data = shapes_files["train"]
    names = {c["id"]: c["name"] for c in data["categories"]}
    assert len(names) == 8
    for ann in data["annotations"]:
        assert names[ann["category_id"]] == ann["extra_info"]["shape"]
