"""Tiny inputs in the raw layouts of the public releases, for the converter tests.

Each ``write_*`` function writes files in the layout of the release it stands for into a folder
and returns their paths; the expected outputs are computed by hand in the tests. The fixtures in
``conftest.py`` call them with ``tmp_path``.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from pycocotools.coco import COCO

from lavis_dynrefer.data.annotations import load_region_annotations

FIFTEEN_WORDS = "one two three four five six seven eight nine ten eleven twelve thirteen " \
                "fourteen fifteen"


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def open_region_file(path: Path) -> dict[str, Any]:
    """Read a converter's output after checking that pycocotools and the project's loader open it.

    pycocotools opening the file is the contract's first rule; ``load_region_annotations`` is
    what training and evaluation read it with.
    """
    coco = COCO(str(path))
    assert len(coco.anns) == len(read_json(path)["annotations"])
    load_region_annotations(path)
    return read_json(path)


def write_vg_raw(folder: Path) -> dict[str, Path]:
    """VG v1.2 layout: region_descriptions.json, image_data.json, densecap_splits.json."""
    regions = [
        {"id": 1, "regions": [
            {"region_id": 101, "image_id": 1, "phrase": "The small red car, on the road.",
             "x": 10, "y": 20, "width": 30, "height": 40},
            {"region_id": 102, "image_id": 1, "phrase": "Man's T-shirt!",
             "x": 90, "y": 70, "width": 20, "height": 20},
            {"region_id": 103, "image_id": 1, "phrase": FIFTEEN_WORDS + " sixteen",
             "x": 1, "y": 1, "width": 5, "height": 5},
            {"region_id": 104, "image_id": 1, "phrase": "outside the image",
             "x": 120, "y": 10, "width": 5, "height": 5},
            {"region_id": 105, "image_id": 1, "phrase": FIFTEEN_WORDS.upper(),
             "x": -5, "y": -5, "width": 10, "height": 10},
            {"region_id": 106, "image_id": 1, "phrase": " ... ",
             "x": 1, "y": 1, "width": 5, "height": 5},
        ]},
        {"id": 2, "regions": [
            {"region_id": 201, "image_id": 2, "phrase": "White clouds in blue sky",
             "x": 0, "y": 0, "width": 50, "height": 25},
        ]},
        {"id": 3, "regions": [
            {"region_id": 301, "image_id": 3, "phrase": "a dog", "x": 1, "y": 2, "width": 3,
             "height": 4},
        ]},
    ]
    image_data = [
        {"image_id": 1, "width": 100, "height": 80, "coco_id": 11, "flickr_id": None,
         "url": "https://example.invalid/VG_100K/1.jpg"},
        {"image_id": 2, "width": 50, "height": 50, "coco_id": None, "flickr_id": 7,
         "url": "https://example.invalid/VG_100K/2.jpg"},
        {"image_id": 3, "width": 60, "height": 40, "coco_id": 33, "flickr_id": None,
         "url": "https://example.invalid/VG_100K/3.jpg"},
    ]
    splits = {"train": [1, 2], "val": [3], "test": [4]}
    return {
        "region_descriptions": write_json(folder / "region_descriptions.json", regions),
        "image_data": write_json(folder / "image_data.json", image_data),
        "split_file": write_json(folder / "densecap_splits.json", splits),
    }


COCO2014_IMAGES = [
    {"id": 10, "file_name": "COCO_train2014_000000000010.jpg", "width": 640, "height": 480},
    {"id": 20, "file_name": "COCO_train2014_000000000020.jpg", "width": 100, "height": 100},
]


def write_refer_raw(folder: Path) -> dict[str, Path]:
    """refer toolkit layout: refs(umd).p (pickled list) + instances.json (COCO, XYWH)."""
    instances = {
        "images": COCO2014_IMAGES,
        "annotations": [
            {"id": 1000, "image_id": 10, "bbox": [10.5, 20.25, 100, 50], "category_id": 1,
             "area": 5000.0, "iscrowd": 0, "segmentation": []},
            {"id": 2000, "image_id": 20, "bbox": [90, 90, 20, 20], "category_id": 3,
             "area": 400.0, "iscrowd": 0, "segmentation": []},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
    }
    refs = [
        {"ref_id": 0, "ann_id": 1000, "image_id": 10, "split": "train", "category_id": 1,
         "file_name": "COCO_train2014_000000000010_1000.jpg",
         "sentences": [
             {"sent": "the man in yellow coat", "raw": "The man in yellow coat.",
              "tokens": ["the", "man", "in", "yellow", "coat"], "sent_id": 0},
             {"sent": "a  man holding skis ", "raw": "A man holding skis",
              "tokens": ["a", "man", "holding", "skis"], "sent_id": 1},
         ]},
        {"ref_id": 1, "ann_id": 2000, "image_id": 20, "split": "val", "category_id": 3,
         "file_name": "COCO_train2014_000000000020_2000.jpg",
         "sentences": [{"sent": "red car on the right", "raw": "Red car on the right",
                        "tokens": ["red", "car", "on", "the", "right"], "sent_id": 2}]},
    ]
    refs_path = folder / "refs(umd).p"
    refs_path.write_bytes(pickle.dumps(refs))
    return {"refs": refs_path, "instances": write_json(folder / "instances.json", instances)}


def write_mdetr_raw(folder: Path) -> Path:
    """MDETR layout: finetune_refcocog_{train,val}.json, one image entry per expression."""
    folder = folder / "mdetr"
    folder.mkdir(exist_ok=True)
    common = {"dataset_name": "refcocog", "tokens_negative": []}
    train = {
        "images": [
            {**COCO2014_IMAGES[0], "id": 5, "original_id": 10, "sentence_id": 0,
             "caption": "the man in yellow coat", "tokens_positive_eval": [[[4, 7]]], **common},
            {**COCO2014_IMAGES[0], "id": 6, "original_id": 10, "sentence_id": 1,
             "caption": "a man holding skis", "tokens_positive_eval": [[[2, 5]]], **common},
        ],
        "annotations": [
            {"id": 7, "image_id": 5, "bbox": [10.5, 20.25, 100, 50], "category_id": 1,
             "original_id": 1000, "tokens_positive": [[4, 7]], "area": 5000.0, "iscrowd": 0},
            {"id": 8, "image_id": 6, "bbox": [10.5, 20.25, 100, 50], "category_id": 1,
             "original_id": 1000, "tokens_positive": [[2, 5]], "area": 5000.0, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
    }
    val = {
        "images": [{**COCO2014_IMAGES[1], "id": 9, "original_id": 20, "sentence_id": 2,
                    "caption": "red car on the right", **common}],
        "annotations": [{"id": 11, "image_id": 9, "bbox": [90, 90, 20, 20], "category_id": 3,
                         "original_id": 2000, "tokens_positive": [[4, 7]], "area": 400.0,
                         "iscrowd": 0}],
        "categories": train["categories"],
    }
    write_json(folder / "finetune_refcocog_train.json", train)
    write_json(folder / "finetune_refcocog_val.json", val)
    return folder


def write_ovad_raw(folder: Path) -> Path:
    """ovad2000.json layout, shrunk to 3 attributes (listed out of id order on purpose)."""
    data = {
        "images": [
            {"id": 100, "file_name": "000000000100.jpg", "width": 100, "height": 50},
            {"id": 200, "file_name": "000000000200.jpg", "width": 30, "height": 30},
        ],
        "annotations": [
            {"id": 1, "image_id": 100, "bbox": [0, 0, 10, 10], "category_id": 1,
             "att_vec": [1, 0, -1], "area": 100.0, "iscrowd": 0},
            {"id": 2, "image_id": 200, "bbox": [0, 0, 30, 30], "category_id": 1,
             "att_vec": [0, 0, 0], "area": 900.0, "iscrowd": 1},
            {"id": 3, "image_id": 100, "bbox": [95, 5, 10, 10], "category_id": 18,
             "att_vec": [-1, 1, 0], "area": 100.0, "iscrowd": 0},
        ],
        "attributes": [
            {"id": 2, "name": "material:wooden/wood", "type": "material",
             "parent_type": "material", "is_has_att": "is", "freq_set": "tail"},
            {"id": 0, "name": "color:red", "type": "color", "parent_type": "color",
             "is_has_att": "has", "freq_set": "head"},
            {"id": 1, "name": "cleanliness:clean/neat", "type": "cleanliness",
             "parent_type": "cleanliness", "is_has_att": "is", "freq_set": "medium"},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
    }
    return write_json(folder / "ovad2000.json", data)


def write_coco_raw(folder: Path) -> Path:
    """instances_val2017.json layout: XYWH boxes, a crowd box, an image without boxes."""
    data = {
        "info": {"description": "fixture"}, "licenses": [],
        "images": [
            {"id": 1, "file_name": "000000000001.jpg", "width": 640, "height": 480},
            {"id": 2, "file_name": "000000000002.jpg", "width": 320, "height": 240},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "bbox": [473.07, 395.93, 38.65, 28.67],
             "category_id": 18, "iscrowd": 0, "area": 702.1, "segmentation": [[]]},
            {"id": 11, "image_id": 1, "bbox": [0, 0, 100, 100], "category_id": 1,
             "iscrowd": 1, "area": 10000.0, "segmentation": {"counts": [], "size": [480, 640]}},
            {"id": 12, "image_id": 1, "bbox": [600, 400, 100, 100], "category_id": 1,
             "iscrowd": 0, "area": 10000.0, "segmentation": [[]]},
        ],
        "categories": [{"id": 1, "name": "person", "supercategory": "person"},
                       {"id": 18, "name": "dog", "supercategory": "animal"}],
    }
    return write_json(folder / "instances_val2017.json", data)
