"""COCO instances (``instances_val2017.json``) -> region annotation file for region recognition.

Input: the COCO instances layout: ``images[]`` (``id``, ``file_name``, ``width``, ``height``),
``annotations[]`` (``id``, ``image_id``, ``bbox`` as (x, y, w, h), ``category_id``,
``iscrowd``), ``categories[]`` (``id``, ``name``).

Output: one region per non-crowd box, XYXY clipped to the image (a box empty after clipping is
dropped), caption "", ``category_id``, and the source ``categories``. COCO image and annotation
ids are kept. ``convert_instances`` is shared with the OVAD converter (same layout).

Usage:
    python -m lavis_dynrefer.data.converters.coco --instances instances_val2017.json \
        --image-root data/coco/val2017 --out data/coco/recognition_val2017.json
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from tqdm import tqdm

from lavis_dynrefer.data.converters.common import (
    ConversionError,
    build_region_file,
    clip_xyxy,
    image_record,
    log_counts,
    region_record,
    require_keys,
    single_file_command,
    xywh_to_xyxy,
)

logger = logging.getLogger(__name__)


def convert_instances(data: Mapping[str, Any], *, source: str,
                      copy_fields: Sequence[str] = ("category_id",)
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Images and regions of a COCO-style instances file.

    Args:
        data: the loaded file.
        source: a name for messages (e.g. "COCO", "OVAD").
        copy_fields: annotation fields copied unchanged into each region (must be present).

    Returns:
        (image records, region records). Crowd boxes and boxes empty after clipping are skipped.
    """
    require_keys(data, ("images", "annotations"), source)
    images, sizes = [], {}
    for position, image in enumerate(data["images"]):
        require_keys(image, ("id", "file_name", "width", "height"), f"{source} image {position}")
        images.append(image_record(image["id"], image["file_name"], image["width"],
                                   image["height"]))
        sizes[image["id"]] = (image["width"], image["height"])
    counts: Counter = Counter()
    regions = []
    for position, ann in enumerate(tqdm(data["annotations"], desc=source, unit="box")):
        require_keys(ann, ("id", "image_id", "bbox", *copy_fields),
                     f"{source} annotation {position}")
        if ann.get("iscrowd", 0):
            counts["skipped_crowd"] += 1
            continue
        if ann["image_id"] not in sizes:
            raise ConversionError(f"{source} annotation {ann['id']}: unknown image id "
                                  f"{ann['image_id']}")
        box = clip_xyxy(xywh_to_xyxy(ann["bbox"]), *sizes[ann["image_id"]])
        if box is None:
            counts["dropped_empty_box"] += 1
            continue
        fields = {field: ann[field] for field in copy_fields}
        regions.append(region_record(ann["id"], ann["image_id"], box, "", **fields))
    counts["kept_boxes"] = len(regions)
    log_counts(source, counts)
    return images, regions


def checked_categories(data: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """The ``categories`` of an instances file, each with an ``id`` and a ``name``."""
    require_keys(data, ("categories",), source)
    for position, category in enumerate(data["categories"]):
        require_keys(category, ("id", "name"), f"{source} category {position}")
    return [dict(category) for category in data["categories"]]


def convert(data: Mapping[str, Any], *, image_root: str | None = None,
            keep_empty_images: bool = False) -> dict[str, Any]:
    """Region annotation file dict from a loaded COCO instances file."""
    images, regions = convert_instances(data, source="COCO")
    categories = checked_categories(data, "COCO")
    known = {category["id"] for category in categories}
    unknown = sorted({region["category_id"] for region in regions} - known)
    if unknown:
        raise ConversionError(f"COCO annotations use category ids {unknown} not in categories")
    return build_region_file(images, regions, description="coco_instances",
                             image_root=image_root, categories=categories,
                             keep_empty_images=keep_empty_images)


convert_file, build_parser, main = single_file_command(
    convert, what="COCO instances file", prog="python -m lavis_dynrefer.data.converters.coco",
    description="COCO instances -> region annotation file (region recognition)",
    input_flag="--instances", input_help="instances_val2017.json")


if __name__ == "__main__":
    main()
