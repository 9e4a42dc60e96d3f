"""Grounding files: expressions with their target boxes, and a model's ranked boxes for them.

Annotation file (JSON object; boxes XYXY pixels, as every file of this project)::

    {"images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480,
                 "candidates": [[10, 20, 200, 300], ...]}],  # optional: the boxes to rank
     "expressions": [{"id": 7, "image_id": 1, "text": "the dog on the left",
                      "targets": [[10, 20, 200, 300]],      # zero, one or several boxes
                      "kind": "referring"}],                 # free label for per-kind metrics
     "image_root": "images"}                                 # optional, relative to the file

``candidates`` are what a model ranks for that image (e.g. all its COCO GT boxes: the two-stage
"ground-truth proposals" protocol of REC); without them the boxes of the image's targets are.

Result file (JSON list, one record per expression)::

    [{"expression_id": 7, "boxes": [[...], ...], "scores": [0.91, 0.40, ...],
      "matches": 1}]

``boxes`` are the candidates by descending score; the first ``matches`` of them are the ones the
model says the expression refers to (0: none).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class GroundingFormatError(ValueError):
    """A grounding file that does not follow the format; the message names file and record."""


@dataclass(frozen=True)
class Expression:
    """One expression of an image and the boxes it refers to (possibly none)."""

    id: int
    image_id: int
    text: str
    targets: tuple[tuple[float, float, float, float], ...]
    kind: str = ""


@dataclass(frozen=True)
class GroundingFile:
    """A parsed annotation file: ``images`` by id, the ``expressions``, the image folder."""

    images: dict[int, dict[str, Any]]
    expressions: list[Expression] = field(default_factory=list)
    image_root: str | None = None
    source: str = "annotations"

    def candidates(self, image_id: int) -> list[tuple[float, float, float, float]]:
        """The boxes to rank for an image: its ``candidates``, else its targets (each once)."""
        image = self.images.get(image_id, {})
        if image.get("candidates") is not None:
            return [tuple(map(float, box)) for box in image["candidates"]]
        boxes = [box for e in self.expressions if e.image_id == image_id for box in e.targets]
        return list(dict.fromkeys(boxes))


@dataclass(frozen=True)
class Grounded:
    """A model's answer for one expression: candidates by descending score, the first
    ``matches`` of them matched."""

    expression_id: int
    boxes: tuple[tuple[float, float, float, float], ...]
    scores: tuple[float, ...]
    matches: int

    @property
    def matched_boxes(self) -> tuple[tuple[float, float, float, float], ...]:
        return self.boxes[:self.matches]


def _box(value: Any, where: str) -> tuple[float, float, float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) for v in value)):
        raise GroundingFormatError(f"{where}: expected a box [x1, y1, x2, y2] of 4 finite "
                                   f"numbers, got {value!r}")
    x1, y1, x2, y2 = (float(v) for v in value)
    if x2 < x1 or y2 < y1:
        raise GroundingFormatError(f"{where}: reversed box {list(value)} (XYXY expects "
                                   "x2 >= x1 and y2 >= y1)")
    return x1, y1, x2, y2


def _read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"grounding file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise GroundingFormatError(f"{path}: not valid JSON ({err})") from err


def parse_grounding(data: Any, where: str = "annotations") -> GroundingFile:
    """Check and parse an annotation object (module docstring)."""
    if not isinstance(data, dict) or not isinstance(data.get("expressions"), list):
        raise GroundingFormatError(f"{where}: expected an object with an 'expressions' list")
    images = {}
    for i, image in enumerate(data.get("images", [])):
        if not isinstance(image, dict) or not isinstance(image.get("id"), int):
            raise GroundingFormatError(f"{where}: images[{i}]: expected an object with an "
                                       "integer 'id'")
        if image.get("candidates") is not None:
            if not isinstance(image["candidates"], list):
                raise GroundingFormatError(f"{where}: images[{i}] (id {image['id']}): "
                                           "'candidates' must be a list of boxes")
            for j, box in enumerate(image["candidates"]):
                _box(box, f"{where}: images[{i}] (id {image['id']}) candidate {j}")
        images[image["id"]] = image
    expressions, seen = [], set()
    for i, record in enumerate(data["expressions"]):
        at = f"{where}: expressions[{i}]"
        if not isinstance(record, dict):
            raise GroundingFormatError(f"{at}: expected an object, got {record!r}")
        for key in ("id", "image_id"):
            if not isinstance(record.get(key), int):
                raise GroundingFormatError(f"{at}: '{key}' must be an integer, got "
                                           f"{record.get(key)!r}")
        if record["id"] in seen:
            raise GroundingFormatError(f"{at}: duplicate expression id {record['id']}")
        seen.add(record["id"])
        if images and record["image_id"] not in images:
            raise GroundingFormatError(f"{at} (id {record['id']}): image_id "
                                       f"{record['image_id']} is not in 'images'")
        if not isinstance(record.get("text"), str) or not record["text"].strip():
            raise GroundingFormatError(f"{at} (id {record['id']}): 'text' must be a non-empty "
                                       "string")
        targets = record.get("targets")
        if not isinstance(targets, list):
            raise GroundingFormatError(f"{at} (id {record['id']}): 'targets' must be a list of "
                                       "boxes (empty when the expression refers to nothing)")
        expressions.append(Expression(
            id=record["id"], image_id=record["image_id"], text=record["text"],
            targets=tuple(_box(b, f"{at} (id {record['id']}) target {j}")
                          for j, b in enumerate(targets)),
            kind=str(record.get("kind", ""))))
    root = data.get("image_root")
    if root is not None and not isinstance(root, str):
        raise GroundingFormatError(f"{where}: 'image_root' must be a folder path, got {root!r}")
    return GroundingFile(images=images, expressions=expressions, image_root=root, source=where)


def load_grounding(path: str | Path) -> GroundingFile:
    """Read and check an annotation file; errors name the file and the record."""
    return parse_grounding(_read_json(path), str(path))


def parse_grounded(records: Any, where: str = "results") -> list[Grounded]:
    """Check and parse result records (module docstring)."""
    if not isinstance(records, list):
        raise GroundingFormatError(f"{where}: expected a JSON list of records")
    out, seen = [], set()
    for i, record in enumerate(records):
        at = f"{where}: record {i}"
        if not isinstance(record, dict) or not isinstance(record.get("expression_id"), int):
            raise GroundingFormatError(f"{at}: expected an object with an integer "
                                       "'expression_id'")
        eid = record["expression_id"]
        if eid in seen:
            raise GroundingFormatError(f"{at}: duplicate expression_id {eid}")
        seen.add(eid)
        boxes = record.get("boxes", [])
        scores = record.get("scores", [])
        if not isinstance(boxes, list) or not isinstance(scores, list) or len(boxes) != len(
                scores):
            raise GroundingFormatError(f"{at} (expression {eid}): 'boxes' and 'scores' must be "
                                       "lists of the same length")
        if not all(isinstance(s, (int, float)) and math.isfinite(s) for s in scores):
            raise GroundingFormatError(f"{at} (expression {eid}): scores must be finite numbers")
        if any(a < b for a, b in zip(scores, scores[1:])):
            raise GroundingFormatError(f"{at} (expression {eid}): boxes must come by descending "
                                       "score")
        matches = record.get("matches", 0)
        if not isinstance(matches, int) or isinstance(matches, bool) or not 0 <= matches <= len(
                boxes):
            raise GroundingFormatError(f"{at} (expression {eid}): 'matches' must be an integer "
                                       f"in [0, {len(boxes)}], got {matches!r}")
        out.append(Grounded(eid, tuple(_box(b, f"{at} (expression {eid}) box {j}")
                                       for j, b in enumerate(boxes)),
                            tuple(float(s) for s in scores), matches))
    return out


def load_grounded(path: str | Path) -> list[Grounded]:
    """Read and check a result file; errors name the file and the record."""
    return parse_grounded(_read_json(path), str(path))


def grounded_record(expression_id: int, boxes: Sequence[Sequence[float]],
                    scores: Sequence[float], matched: Sequence[int]) -> dict[str, Any]:
    """A result record from ``ground``'s output for candidate ``boxes``: all candidates by
    descending score, the matched ones (a prefix of that order) counted in ``matches``."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return {"expression_id": expression_id, "boxes": [list(map(float, boxes[i])) for i in order],
            "scores": [float(scores[i]) for i in order], "matches": len(matched)}
