"""Facts about each object of a rendered scene: its identity, place, occlusion and relations.

Captions and attribute labels are both computed from these facts only, so the two never disagree
with each other or with the picture. Spatial words come from here, in one place:

- the 3 x 3 cell of the object's centre (``top left`` ... ``bottom right``, ``center``);
- the relation of one object to another: ``in front of`` / ``behind`` when their shapes overlap
  (drawing order decides), else ``left of`` / ``right of`` / ``above`` / ``below`` along the
  dominant axis of the centre offset. Exactly one relation holds for every ordered pair.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from lavis_dynrefer.shapes.render import Box, RenderedScene
from lavis_dynrefer.shapes.scene import RGB, Scene

ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "center", "right")
RELATIONS = ("left of", "right of", "above", "below", "in front of", "behind")
OCCLUDED_BELOW = 0.9  # visible fraction under which an object counts as occluded
HIDDEN_BELOW = 0.6  # visible fraction under which its fill is unknown (label -1)


@dataclasses.dataclass(frozen=True)
class ObjectFacts:
    """One object as captions and attribute labels see it; ``index`` is its drawing order."""

    index: int
    shape: str
    color: str
    size: str
    fill: str
    rgb: RGB
    cx: float
    cy: float
    radius: float
    box: Box
    visible: float
    above: frozenset[int]
    below: frozenset[int]
    row: int  # 0 top, 1 middle, 2 bottom
    column: int  # 0 left, 1 center, 2 right

    @property
    def cell(self) -> tuple[int, int]:
        return self.row, self.column

    @property
    def position(self) -> str:
        """``"top left"``, ``"middle center"``, ... (row then column)."""
        return f"{ROWS[self.row]} {COLUMNS[self.column]}"


def third(value: float, size: int) -> int:
    """Which third (0, 1, 2) of [0, size) ``value`` falls in."""
    return min(max(int(value * 3 // size), 0), 2)


def build_facts(scene: Scene, rendered: RenderedScene) -> tuple[ObjectFacts, ...]:
    """One ``ObjectFacts`` per object, in drawing order."""
    return tuple(
        ObjectFacts(index=i, shape=obj.shape, color=obj.color, size=obj.size, fill=obj.fill,
                    rgb=obj.rgb, cx=obj.cx, cy=obj.cy, radius=obj.radius, box=view.box,
                    visible=view.visible, above=view.above, below=view.below,
                    row=third(obj.cy, scene.size), column=third(obj.cx, scene.size))
        for i, (obj, view) in enumerate(zip(scene.objects, rendered.objects, strict=True))
    )


def relation(subject: ObjectFacts, anchor: ObjectFacts) -> str:
    """The one relation word of ``subject`` with respect to ``anchor`` (see module docstring)."""
    if anchor.index in subject.above:
        return "in front of"
    if anchor.index in subject.below:
        return "behind"
    dx, dy = anchor.cx - subject.cx, anchor.cy - subject.cy
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def gap(a: ObjectFacts, b: ObjectFacts) -> float:
    """Distance between the two objects' enclosing circles (negative when they overlap)."""
    return math.hypot(a.cx - b.cx, a.cy - b.cy) - a.radius - b.radius


def nearest(facts: Sequence[ObjectFacts], subject: ObjectFacts, count: int) -> list[ObjectFacts]:
    """The ``count`` other objects closest to ``subject`` (by ``gap``), nearest first."""
    others = [f for f in facts if f.index != subject.index]
    return sorted(others, key=lambda f: (gap(subject, f), f.index))[:count]
