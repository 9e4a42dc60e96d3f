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

import random
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
    images = [{"id": i.id, "file_name": i.file_name, "width": i.width, "height": i.height}
              for i in gt.images]
    expressions: list[dict[str, Any]] = []
    for image_id, regions in gt.annotations_by_image.items():
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
    return {"images": images, "expressions": expressions}
