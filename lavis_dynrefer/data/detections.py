"""Predicted-box files: COCO detection results, which is also what GRiT writes.

A JSON list, one object per box::

    [{"image_id": 42, "bbox": [x, y, w, h], "score": 0.93, ...}]

``bbox`` is COCO's XYWH in pixels (detectron2's ``instances_to_coco_json``); GRiT's
``vg_instances_results.json`` has this layout with ``category_id`` and ``object_descriptions``
added, which are ignored. Boxes come back XYXY, the convention of every other file of this
project. A record that is not an object with an ``image_id`` is a format error of the whole file;
a bad box only marks its image (``ImageDetections.problems``), so that a command can skip that
image and go on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lavis_dynrefer.data.annotations import read_json_file


class DetectionFormatError(ValueError):
    """A detection-results file that is not a list of detections; names file and record."""


@dataclass
class ImageDetections:
    """The detections of one image, by descending score: ``boxes`` XYXY, their ``scores``, and
    one message per bad record (its index and value)."""

    boxes: list[list[float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_detections(data: Any, source: str) -> dict[Any, ImageDetections]:
    """image_id -> its detections (module docstring); ``source`` names the file in errors."""
    if not isinstance(data, list):
        raise DetectionFormatError(f"{source}: expected a JSON list of detections "
                                   "[{\"image_id\", \"bbox\": [x, y, w, h], \"score\"}], got "
                                   f"{type(data).__name__}")
    out: dict[Any, ImageDetections] = {}
    for i, record in enumerate(data):
        if not isinstance(record, Mapping) or not isinstance(record.get("image_id"), (int, str)):
            raise DetectionFormatError(f"{source}: detection {i}: expected an object with an "
                                       f"'image_id' (number or name), got {record!r}")
        image = out.setdefault(record["image_id"], ImageDetections())
        box, score = record.get("bbox"), record.get("score", 1.0)
        if not (isinstance(box, list) and len(box) == 4 and all(map(_number, box))
                and box[2] > 0 and box[3] > 0):
            image.problems.append(f"detection {i}: expected 'bbox' [x, y, w, h] with w, h > 0, "
                                  f"got {box!r}")
            continue
        if not _number(score):
            image.problems.append(f"detection {i}: 'score' must be a finite number, got "
                                  f"{score!r}")
            continue
        image.boxes.append([box[0], box[1], box[0] + box[2], box[1] + box[3]])
        image.scores.append(float(score))
    for image in out.values():
        order = sorted(range(len(image.scores)), key=lambda k: -image.scores[k])
        image.boxes = [image.boxes[k] for k in order]
        image.scores = [image.scores[k] for k in order]
    return out


def load_detections(path: str | Path) -> dict[Any, ImageDetections]:
    """Read a detection-results file (``parse_detections``); FileNotFoundError if missing."""
    return parse_detections(read_json_file(path, DetectionFormatError), str(path))


def lookup(detections: Mapping[Any, ImageDetections], name: str) -> ImageDetections | None:
    """The detections whose ``image_id`` is the image file's name without extension (or that
    name as a number: COCO and VG images are named by their id)."""
    stem = Path(name).stem
    for key in (stem, int(stem) if stem.isdigit() else None):
        if key is not None and key in detections:
            return detections[key]
    return None
