"""Every fact of a region as a class index: the targets of the towers' pre-training.

The paper's frozen towers were pre-trained on web-scale data and know what they look at; the
shapes world has no such data, but it knows every fact of every object. Pre-training the ViT to
read these facts off a view of a region (``shapes.towers``) gives it what the frozen EVA ViT gives
DynRefer: features that say what the region is (shape, colour, fill), where and how large it is,
and what surrounds it (its nearest objects and in which direction they lie, how many objects
look like it, whether it is the extreme one of its kind). Captions are built from exactly these
facts (``captions``), so a region's features can carry everything its caption needs.

Each head is a classification; ``IGNORE`` marks a fact that does not exist (no second neighbour).
``INTRINSIC_HEADS`` can be read from the box alone (a t = 0 view); the others need context.
"""

from __future__ import annotations

from collections.abc import Sequence

from lavis_dynrefer.shapes.captions import extremeness
from lavis_dynrefer.shapes.facts import COLUMNS, RELATIONS, ROWS, ObjectFacts, nearest, relation
from lavis_dynrefer.shapes.language import SUPERLATIVES
from lavis_dynrefer.shapes.scene import COLOR_NAMES, FILL_NAMES, SHAPE_NAMES, SIZE_NAMES

IGNORE = -100  # torch's cross_entropy ignore_index
MAX_COUNT = 4  # counts 1, 2, 3 and "4 or more"
NEIGHBOURS = 2  # relation captions name one of the two nearest objects

_IDENTITY = {"shape": SHAPE_NAMES, "color": COLOR_NAMES}
FACT_HEADS: dict[str, int] = {
    "shape": len(SHAPE_NAMES),
    "color": len(COLOR_NAMES),
    "fill": len(FILL_NAMES),
    "size": len(SIZE_NAMES),
    "cell": len(ROWS) * len(COLUMNS),
    **{f"near{n}_{key}": len(names) for n in range(1, NEIGHBOURS + 1)
       for key, names in _IDENTITY.items()},
    **{f"near{n}_relation": len(RELATIONS) for n in range(1, NEIGHBOURS + 1)},
    "count_same_color": MAX_COUNT,
    "count_same_shape": MAX_COUNT,
    "count_same_both": MAX_COUNT,
    **{f"{superlative}_of_{key}": 2 for key in _IDENTITY for superlative in SUPERLATIVES},
}
INTRINSIC_HEADS = frozenset({"shape", "color", "fill"})


def _count(objects: Sequence[ObjectFacts], obj: ObjectFacts, keys: Sequence[str]) -> int:
    """How many objects (``obj`` included) share ``obj``'s values of ``keys``, capped, 0-based."""
    same = sum(all(getattr(o, k) == getattr(obj, k) for k in keys) for o in objects)
    return min(same, MAX_COUNT) - 1


def _is_extreme(objects: Sequence[ObjectFacts], obj: ObjectFacts, key: str, superlative: str,
                size: int) -> int:
    """1 if ``obj`` is strictly the most ``superlative`` of the objects sharing its ``key``
    (and there are at least two), else 0."""
    group = [o for o in objects if getattr(o, key) == getattr(obj, key) and o.index != obj.index]
    if not group:
        return 0
    measure, _ = extremeness(superlative, size)
    return int(all(measure(obj) > measure(o) for o in group))


def fact_targets(objects: Sequence[ObjectFacts], size: int) -> list[dict[str, int]]:
    """The class index of every ``FACT_HEADS`` head for every object of one image.

    Args:
        objects: all objects of the image (``truth.object_facts`` of its annotations).
        size: the image side in pixels.

    Returns:
        One dict per object, in order.
    """
    targets = []
    for obj in objects:
        facts = {
            "shape": SHAPE_NAMES.index(obj.shape),
            "color": COLOR_NAMES.index(obj.color),
            "fill": FILL_NAMES.index(obj.fill),
            "size": SIZE_NAMES.index(obj.size),
            "cell": obj.row * len(COLUMNS) + obj.column,
            "count_same_color": _count(objects, obj, ("color",)),
            "count_same_shape": _count(objects, obj, ("shape",)),
            "count_same_both": _count(objects, obj, ("color", "shape")),
        }
        neighbours = nearest(objects, obj, NEIGHBOURS)
        for n in range(1, NEIGHBOURS + 1):
            other = neighbours[n - 1] if n <= len(neighbours) else None
            for key, names in _IDENTITY.items():
                facts[f"near{n}_{key}"] = (names.index(getattr(other, key)) if other
                                           else IGNORE)
            facts[f"near{n}_relation"] = (RELATIONS.index(relation(obj, other)) if other
                                          else IGNORE)
        for key in _IDENTITY:
            for superlative in SUPERLATIVES:
                facts[f"{superlative}_of_{key}"] = _is_extreme(objects, obj, key, superlative,
                                                               size)
        targets.append(facts)
    return targets

