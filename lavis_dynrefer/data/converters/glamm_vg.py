"""GLaMM's Visual Genome region-captioning test set (``test_caption.json``) -> region annotation
file, for the ``vg_reg`` dataset (the paper's METEOR 21.2 / CIDEr 190.9 split).

Input: the file GLaMM evaluates with (``data/visual_genome/test_caption.json`` in GLaMM's
``eval/region_captioning``; the same layout as GPT4RoI's): COCO layout with **one "image" per
region**: ``images[]`` ``{"id", "file_name" (the VG image), "height", "width"}`` and
``annotations[]`` ``{"id", "image_id", "bbox": [x, y, w, h], "caption"}``, GLaMM's scorer
pairing a caption with each of those ids. Some copies spell the caption ``description``.

Output: one region per annotation (XYXY, clipped; empty boxes dropped and counted), the
caption as given (the metric's PTB tokenizer normalizes it), and the annotation's ``id`` kept, so
result ids are GLaMM's; regions of the same VG image share one image record (id = the VG image
id of ``<id>.jpg``, else numbered after them), so each image is decoded once per eval sample.
Image sizes come from the file, or, where it lacks them, from the image under ``--image-root``.

Usage:
    python -m lavis_dynrefer.data.converters.glamm_vg --glamm test_caption.json \
        --image-root data/vg/images --out data/vg_reg/test.json
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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

SOURCE = "GLaMM VG test_caption.json"


def _size(entry: Mapping[str, Any], image_root: str | None) -> tuple[int, int]:
    if isinstance(entry.get("width"), int) and isinstance(entry.get("height"), int):
        return entry["width"], entry["height"]
    if image_root is None:
        raise ConversionError(f"{SOURCE}: image {entry['id']} ({entry['file_name']}) has no "
                              "width/height; give --image-root to read them from the image")
    from PIL import Image

    path = Path(image_root) / entry["file_name"]
    if not path.is_file():
        raise FileNotFoundError(f"{SOURCE}: image {entry['id']}: {path} not found (needed for "
                                "its size)")
    with Image.open(path) as image:  # the header only
        return image.size


def convert(data: Mapping[str, Any], *, image_root: str | None = None,
            keep_empty_images: bool = False) -> dict[str, Any]:
    """Region annotation file dict from a loaded GLaMM ``test_caption.json``."""
    require_keys(data, ("images", "annotations"), SOURCE)
    entries = {}
    for entry in data["images"]:
        require_keys(entry, ("id", "file_name"), f"{SOURCE} image")
        entries[entry["id"]] = entry
    names = sorted({e["file_name"] for e in entries.values()})
    numbered = {n: int(Path(n).stem) for n in names if Path(n).stem.isdigit()}
    next_id = max(numbered.values(), default=0) + 1
    image_ids = {}
    for name in names:
        image_ids[name] = numbered.get(name)
        if image_ids[name] is None:
            image_ids[name], next_id = next_id, next_id + 1
    images, regions, counts = {}, [], Counter()
    for ann in data["annotations"]:
        where = f"{SOURCE} annotation {ann.get('id', '?')}"
        require_keys(ann, ("id", "image_id", "bbox"), where)
        caption = ann.get("caption", ann.get("description"))
        if not isinstance(caption, str):
            raise ConversionError(f"{where}: no 'caption' (or 'description') string")
        entry = entries.get(ann["image_id"])
        if entry is None:
            raise ConversionError(f"{where}: image_id {ann['image_id']} is not in 'images'")
        width, height = _size(entry, image_root)
        image_id = image_ids[entry["file_name"]]
        images.setdefault(image_id, image_record(image_id, entry["file_name"], width, height))
        box = clip_xyxy(xywh_to_xyxy(ann["bbox"]), width, height)
        if box is None:
            counts["empty_box_dropped"] += 1
            continue
        regions.append(region_record(ann["id"], image_id, box, caption.strip(),
                                     {"glamm_image_id": ann["image_id"]}))
        counts["regions"] += 1
    counts["images"] = len(images)
    log_counts(SOURCE, counts)
    return build_region_file(list(images.values()), regions, description="glamm_vg_test",
                             image_root=image_root, keep_empty_images=keep_empty_images)


convert_file, build_parser, main = single_file_command(
    convert, what=SOURCE, prog="python -m lavis_dynrefer.data.converters.glamm_vg",
    description="GLaMM's VG region-captioning test set -> region annotation file (vg_reg)",
    input_flag="--glamm", input_help="GLaMM's test_caption.json")


if __name__ == "__main__":
    main()
