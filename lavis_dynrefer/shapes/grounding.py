"""Grounding splits of the shapes world: expressions with the objects they are true of.

Every GT caption of an image becomes an expression, and its targets are all the objects of the
image it is true of, decided by the same scene check as caption truth (``truth.holds``): a
referring caption has one target, ``one of four circles`` four, ``a small red star`` as many as
there are. Two expressions per image refer to nothing: the definite ``the <colour> <shape>`` of
a colour and shape no object has together, and an object's ``the <colour> <shape>`` placed in a
cell where no such object lies (``... in the top left corner``). Relation captions keep the
object their anchor phrase names (``anchor``), for grounded captions.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from lavis_dynrefer.data.annotations import RegionAnnotationFile
from lavis_dynrefer.shapes.facts import COLUMNS, ROWS, ObjectFacts
from lavis_dynrefer.shapes.language import PLURALS, position_words
from lavis_dynrefer.shapes.scene import COLOR_NAMES
from lavis_dynrefer.shapes.truth import holds, object_facts, parse_caption

NO_TARGET_KINDS = ("absent", "misplaced")


def _targets(text: str, objects: list[ObjectFacts], size: int) -> list[ObjectFacts]:
    parsed = parse_caption(text)
    return [o for o in objects if holds(parsed, o, objects, size)]


def _no_target_expressions(objects: list[ObjectFacts], size: int, rng: random.Random
                           ) -> list[tuple[str, str]]:
    """(text, kind) pairs true of no object: an absent colour-shape pair, a misplaced one."""
    present = {(o.color, o.shape) for o in objects}
    absent = [(c, s) for c in COLOR_NAMES for s in PLURALS if (c, s) not in present]
    out = []
    if absent:
        color, shape = rng.choice(absent)
        out.append((f"the {color} {shape}", "absent"))
    cells = [(r, c) for r in range(len(ROWS)) for c in range(len(COLUMNS))]
    for obj in rng.sample(objects, len(objects)):
        free = [cell for cell in cells if not any(
            o.color == obj.color and o.shape == obj.shape and (o.row, o.column) == cell
            for o in objects)]
        if free:
            text = " ".join(["the", obj.color, obj.shape, *position_words(*rng.choice(free))])
            out.append((text, "misplaced"))
            break
    return [(text, kind) for text, kind in out if not _targets(text, objects, size)]


def grounding_split(gt: RegionAnnotationFile, seed: int = 0) -> dict[str, Any]:
    """The grounding annotation object (``grounding.formats``) of a shapes region file."""
    sizes = {image.id: max(image.width, image.height) for image in gt.images}
    by_image = gt.annotations_by_image
    images = [{"id": i.id, "file_name": i.file_name, "width": i.width, "height": i.height,
               "candidates": [list(a.bbox) for a in by_image[i.id]]} for i in gt.images]
    expressions: list[dict[str, Any]] = []
    for image_id, regions in by_image.items():
        objects = [object_facts(a) for a in regions]
        boxes = {a.id: list(a.bbox) for a in regions}
        rng = random.Random(seed * 1_000_003 + image_id)
        for annotation in regions:
            targets = _targets(annotation.caption, objects, sizes[image_id])
            record = {"id": len(expressions) + 1, "image_id": image_id,
                      "text": annotation.caption,
                      "targets": [boxes[o.index] for o in targets],
                      "kind": parse_caption(annotation.caption).kind,
                      "region_id": annotation.id}
            relation = (annotation.extra_info or {}).get("relation")
            if relation:
                record["anchor"] = boxes[relation["target_id"]]
            expressions.append(record)
        for text, kind in _no_target_expressions(objects, sizes[image_id], rng):
            expressions.append({"id": len(expressions) + 1, "image_id": image_id, "text": text,
                                "targets": [], "kind": kind})
    out = {"images": images, "expressions": expressions}
    if gt.image_root is not None:
        out["image_root"] = gt.image_root
    return out


def write_grounding_split(data: str | Path, split: str, seed: int = 0) -> Path:
    """``<data>/<split>_grounding.json`` from ``<data>/<split>_regions.json``."""
    from lavis_dynrefer.data.annotations import load_region_annotations

    out = Path(data) / f"{split}_grounding.json"
    out.write_text(json.dumps(grounding_split(
        load_region_annotations(Path(data) / f"{split}_regions.json"), seed)), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m lavis_dynrefer.shapes.grounding [--data data/shapes] [--split val test]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.shapes.grounding",
                                     description="Write the shapes world's grounding splits.")
    parser.add_argument("--data", default="data/shapes")
    parser.add_argument("--splits", nargs="+", default=["val", "test"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for split in args.splits:
        source = Path(args.data) / f"{split}_regions.json"
        if not source.is_file():
            parser.error(f"{source} not found: generate it with python -m lavis_dynrefer.shapes "
                         f"--out {args.data}")
        sys.stdout.write(f"{write_grounding_split(args.data, split, args.seed)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
