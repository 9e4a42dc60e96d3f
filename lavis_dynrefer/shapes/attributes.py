"""Attribute labels in OVAD's layout: the attribute list and one ``att_vec`` per object.

Each attribute is named ``"type:syn1/syn2"`` (``color:purple/violet``, ``pattern:striped/lined``)
with OVAD's ``is_has_att`` prompt family ("has" for colour and pattern, as OVAD's colour
attributes; "is" for the rest). ``att_vec`` holds 1 (positive), 0 (negative) and -1 (unknown):
the pattern labels of an object mostly hidden by others are unknown, and, as in OVAD's sparse
annotation, a random ``IGNORE_RATE`` of all labels is unknown too.

``freq_set`` splits the attributes into thirds by how often they are positive in the training
split (most frequent third ``head``, then ``medium``, then ``tail``), as OVAD groups its
attributes; it therefore depends on the training split, and is the same in every file of a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from lavis_dynrefer.data.annotations import FREQ_SETS
from lavis_dynrefer.shapes.facts import HIDDEN_BELOW, OCCLUDED_BELOW, ObjectFacts, gap

IGNORE_RATE = 0.05
ISOLATED_GAP = 0.1  # "isolated": no other object within this fraction of the image side


@dataclasses.dataclass(frozen=True)
class SceneView:
    """One object among the others (some attributes compare it with its neighbours)."""

    obj: ObjectFacts
    others: Sequence[ObjectFacts]
    size: int


@dataclasses.dataclass(frozen=True)
class AttributeDef:
    """One attribute: OVAD name, prompt family, its truth test, and whether occlusion hides it."""

    name: str
    is_has: str
    holds: Callable[[SceneView], bool]
    hidden_when_occluded: bool = False

    @property
    def type(self) -> str:
        return self.name.split(":", 1)[0]


def _fact(key: str, *values: str) -> Callable[[SceneView], bool]:
    return lambda view: getattr(view.obj, key) in values


def _extreme_radius(sign: int) -> Callable[[SceneView], bool]:
    """Strictly the largest (sign 1) or smallest (sign -1) object of the scene."""
    return lambda view: all(sign * (view.obj.radius - o.radius) > 0 for o in view.others)


def _isolated(view: SceneView) -> bool:
    return all(gap(view.obj, o) > ISOLATED_GAP * view.size for o in view.others)


ROUND = ("circle", "heart")
POINTED = ("triangle", "star", "diamond")
ANGULAR = ("square", "triangle", "star", "hexagon", "cross", "diamond")
CONVEX = ("circle", "square", "triangle", "hexagon", "diamond")

ATTRIBUTES: tuple[AttributeDef, ...] = (
    AttributeDef("color:red", "has", _fact("color", "red")),
    AttributeDef("color:blue", "has", _fact("color", "blue")),
    AttributeDef("color:green", "has", _fact("color", "green")),
    AttributeDef("color:yellow", "has", _fact("color", "yellow")),
    AttributeDef("color:purple/violet", "has", _fact("color", "purple")),
    AttributeDef("color:orange", "has", _fact("color", "orange")),
    AttributeDef("color:cyan/turquoise", "has", _fact("color", "cyan")),
    AttributeDef("color:pink", "has", _fact("color", "pink")),
    AttributeDef("size:small/tiny", "is", _fact("size", "small")),
    AttributeDef("size:medium/average", "is", _fact("size", "medium")),
    AttributeDef("size:large/big", "is", _fact("size", "large")),
    AttributeDef("pattern:solid/plain", "has", _fact("fill", "solid"), True),
    AttributeDef("pattern:striped/lined", "has", _fact("fill", "striped"), True),
    AttributeDef("pattern:dotted/spotted", "has", _fact("fill", "dotted"), True),
    AttributeDef("pattern:outlined/hollow", "has", _fact("fill", "outlined"), True),
    AttributeDef("shape:round/curved", "is", _fact("shape", *ROUND)),
    AttributeDef("shape:pointed/spiky", "is", _fact("shape", *POINTED)),
    AttributeDef("shape:angular/polygonal", "is", _fact("shape", *ANGULAR)),
    AttributeDef("shape:convex", "is", _fact("shape", *CONVEX)),
    AttributeDef("position:top/upper", "is", lambda v: v.obj.row == 0),
    AttributeDef("position:bottom/lower", "is", lambda v: v.obj.row == 2),
    AttributeDef("position:left", "is", lambda v: v.obj.column == 0),
    AttributeDef("position:right", "is", lambda v: v.obj.column == 2),
    AttributeDef("position:center/middle", "is", lambda v: v.obj.cell == (1, 1)),
    AttributeDef("state:occluded/covered", "is", lambda v: v.obj.visible < OCCLUDED_BELOW),
    AttributeDef("state:isolated/alone", "is", _isolated),
    AttributeDef("scale:largest/biggest", "is", _extreme_radius(1)),
    AttributeDef("scale:smallest/tiniest", "is", _extreme_radius(-1)),
)


def attribute_labels(objects: Sequence[ObjectFacts], size: int, rng: np.random.Generator
                     ) -> list[list[int]]:
    """[N][A] labels (1 / 0 / -1) for the objects of one image, attributes in ATTRIBUTES order.

    Args:
        objects: every object of the image.
        size: the image side in pixels.
        rng: draws the randomly ignored labels.
    """
    rows = []
    for obj in objects:
        view = SceneView(obj=obj, others=[o for o in objects if o.index != obj.index], size=size)
        hidden = obj.visible < HIDDEN_BELOW
        ignored = rng.random(len(ATTRIBUTES)) < IGNORE_RATE
        rows.append([
            -1 if ignored[i] or (hidden and att.hidden_when_occluded) else int(att.holds(view))
            for i, att in enumerate(ATTRIBUTES)
        ])
    return rows


def frequency_sets(att_vecs: Iterable[Sequence[int]]) -> list[str]:
    """head / medium / tail per attribute: thirds by positive count (ties by attribute order)."""
    counts = np.zeros(len(ATTRIBUTES), dtype=np.int64)
    for vec in att_vecs:
        counts += np.asarray(vec) == 1
    ranked = sorted(range(len(ATTRIBUTES)), key=lambda i: (-counts[i], i))
    sets = [""] * len(ATTRIBUTES)
    for freq_set, members in zip(FREQ_SETS, np.array_split(np.array(ranked), len(FREQ_SETS)),
                                 strict=True):
        for i in members:
            sets[int(i)] = freq_set
    return sets


def attribute_records(freq_sets: Sequence[str]) -> list[dict[str, Any]]:
    """The file's ``attributes`` list: ids 0..A-1 = ``att_vec`` positions, as in OVAD."""
    return [{"id": i, "name": att.name, "type": att.type, "freq_set": freq_set,
             "is_has_att": att.is_has}
            for i, (att, freq_set) in enumerate(zip(ATTRIBUTES, freq_sets, strict=True))]
