"""The shapes world's objects and the scene sampler: what is drawn, where, on what background.

A scene is 3-7 objects, each a shape class, a named colour, a size class, a fill and a position,
drawn back to front in list order (later objects may cover earlier ones), on a plain, gradient or
noise background. Classes and colours follow long-tailed weights so that the attribute task has
genuine head / medium / tail attributes, and some objects repeat an earlier object's shape or
colour so that superlatives ("the largest triangle") and counts ("one of two red stars") occur.

All randomness comes from the ``numpy.random.Generator`` passed in; the background's noise gets
its own seed drawn here, so rendering is a pure function of the ``Scene``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np

RGB = tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class ShapeClass:
    """A shape class: the recognition category and the caption noun."""

    name: str
    plural: str
    weight: float


@dataclasses.dataclass(frozen=True)
class ColorName:
    """A named colour; objects get ``rgb`` plus a small per-object jitter."""

    name: str
    rgb: RGB
    weight: float


@dataclasses.dataclass(frozen=True)
class SizeClass:
    """A size class: the radius range as a fraction of the image side."""

    name: str
    radius: tuple[float, float]
    weight: float


@dataclasses.dataclass(frozen=True)
class FillStyle:
    """How the inside of an object is painted; ``name`` is the caption adjective."""

    name: str
    weight: float


SHAPES: tuple[ShapeClass, ...] = (
    ShapeClass("circle", "circles", 0.20),
    ShapeClass("square", "squares", 0.17),
    ShapeClass("triangle", "triangles", 0.15),
    ShapeClass("star", "stars", 0.12),
    ShapeClass("hexagon", "hexagons", 0.11),
    ShapeClass("cross", "crosses", 0.10),
    ShapeClass("diamond", "diamonds", 0.08),
    ShapeClass("heart", "hearts", 0.07),
)
COLORS: tuple[ColorName, ...] = (
    ColorName("red", (215, 40, 40), 0.20),
    ColorName("blue", (40, 80, 215), 0.17),
    ColorName("green", (40, 160, 60), 0.15),
    ColorName("yellow", (240, 210, 30), 0.13),
    ColorName("purple", (135, 55, 185), 0.11),
    ColorName("orange", (245, 135, 25), 0.10),
    ColorName("cyan", (30, 190, 200), 0.08),
    ColorName("pink", (245, 120, 180), 0.06),
)
SIZES: tuple[SizeClass, ...] = (
    SizeClass("small", (0.055, 0.075), 0.40),
    SizeClass("medium", (0.095, 0.120), 0.35),
    SizeClass("large", (0.150, 0.190), 0.25),
)
FILLS: tuple[FillStyle, ...] = (
    FillStyle("solid", 0.45),
    FillStyle("striped", 0.20),
    FillStyle("dotted", 0.20),
    FillStyle("outlined", 0.15),
)
# Muted tones, far in hue or lightness from every object colour.
BACKGROUND_COLORS: tuple[RGB, ...] = (
    (238, 236, 230), (205, 205, 205), (140, 140, 140), (55, 58, 64),
    (226, 214, 186), (176, 190, 170), (100, 110, 125), (196, 180, 150),
)
BACKGROUND_KINDS = ("plain", "gradient", "noise")
PATTERN_ANGLES = (0, 45, 90, 135)

SHAPE_NAMES = tuple(s.name for s in SHAPES)
COLOR_NAMES = tuple(c.name for c in COLORS)
SIZE_NAMES = tuple(s.name for s in SIZES)
FILL_NAMES = tuple(f.name for f in FILLS)

MIN_OBJECTS, MAX_OBJECTS = 3, 7
REPEAT_SHAPE_PROB = 0.35  # a new object copies an earlier object's shape...
REPEAT_COLOR_PROB = 0.5  # ...and then, this often, its colour too
DEEP_OVERLAP_PROB = 0.25  # how often an object may sit deeper into its neighbours
MAX_ROTATION = 15.0  # degrees; more would turn squares into diamonds
COLOR_JITTER = 10
PLACEMENT_TRIES = 40
EDGE_OVERHANG = 0.4  # an object may stick out of the image by this fraction of its radius


@dataclasses.dataclass(frozen=True)
class ShapeObject:
    """One object. ``cx, cy, radius`` are pixels; the shape fits the circle of ``radius``."""

    shape: str
    color: str
    rgb: RGB
    size: str
    fill: str
    cx: float
    cy: float
    radius: float
    rotation: float  # degrees, counter-clockwise on screen
    pattern_angle: int  # stripe orientation, degrees


@dataclasses.dataclass(frozen=True)
class Background:
    """The background: ``kind`` in BACKGROUND_KINDS, two palette colours, a direction, a seed."""

    kind: str
    colors: tuple[RGB, RGB]
    angle: float  # gradient direction, degrees
    seed: int  # noise seed, so that rendering needs no generator of its own


@dataclasses.dataclass(frozen=True)
class Scene:
    """A square image of side ``size`` pixels; ``objects`` back to front."""

    size: int
    background: Background
    objects: tuple[ShapeObject, ...]


class _Weighted(Protocol):
    weight: float


_W = TypeVar("_W", bound=_Weighted)


def weighted_choice(rng: np.random.Generator, items: Sequence[_W]) -> _W:
    """One item drawn with probability proportional to its ``weight``."""
    # Inverse-CDF by hand: Generator.choice(p=...) costs ~50x more per call, per object.
    cumulative = np.cumsum([item.weight for item in items])
    index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return items[min(index, len(items) - 1)]


def _by_name(items: Sequence[_W], name: str) -> _W:
    return next(item for item in items if item.name == name)  # type: ignore[attr-defined]


def sample_background(rng: np.random.Generator) -> Background:
    """A background kind, two distinct palette colours, a direction and a noise seed."""
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    first, second = rng.choice(len(BACKGROUND_COLORS), size=2, replace=False)
    return Background(kind=kind,
                      colors=(BACKGROUND_COLORS[int(first)], BACKGROUND_COLORS[int(second)]),
                      angle=float(rng.uniform(0.0, 360.0)),
                      seed=int(rng.integers(2**31)))


def _sample_identity(rng: np.random.Generator, placed: Sequence[ShapeObject]
                     ) -> tuple[ShapeClass, ColorName]:
    """Shape and colour; sometimes an earlier object's, so that similar objects co-occur."""
    if placed and rng.random() < REPEAT_SHAPE_PROB:
        model = placed[int(rng.integers(len(placed)))]
        color = (_by_name(COLORS, model.color) if rng.random() < REPEAT_COLOR_PROB
                 else weighted_choice(rng, COLORS))
        return _by_name(SHAPES, model.shape), color
    return weighted_choice(rng, SHAPES), weighted_choice(rng, COLORS)


def _place(rng: np.random.Generator, radius: float, placed: Sequence[ShapeObject], size: int
           ) -> tuple[float, float] | None:
    """A centre whose distance to every placed object is at least a fraction of the radii sum."""
    spacing = 0.55 if rng.random() < DEEP_OVERLAP_PROB else 0.85
    low, high = (1.0 - EDGE_OVERHANG) * radius, size - (1.0 - EDGE_OVERHANG) * radius
    for _ in range(PLACEMENT_TRIES):
        cx, cy = rng.uniform(low, high, size=2)
        if all(math.hypot(cx - o.cx, cy - o.cy) >= spacing * (radius + o.radius) for o in placed):
            return round(float(cx), 2), round(float(cy), 2)
    return None


def sample_object(rng: np.random.Generator, placed: Sequence[ShapeObject], size: int
                  ) -> ShapeObject | None:
    """One new object that fits among ``placed``, or None when no free spot was found."""
    shape, color = _sample_identity(rng, placed)
    size_class = weighted_choice(rng, SIZES)
    fill = weighted_choice(rng, FILLS)
    radius = round(float(rng.uniform(*size_class.radius)) * size, 2)
    jitter = rng.integers(-COLOR_JITTER, COLOR_JITTER + 1, size=3)
    rgb = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(color.rgb, jitter))
    rotation = 0.0 if shape.name == "circle" else float(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
    pattern_angle = PATTERN_ANGLES[int(rng.integers(len(PATTERN_ANGLES)))]
    centre = _place(rng, radius, placed, size)
    if centre is None:
        return None
    return ShapeObject(shape=shape.name, color=color.name, rgb=rgb, size=size_class.name,
                       fill=fill.name, cx=centre[0], cy=centre[1], radius=radius,
                       rotation=round(rotation, 2), pattern_angle=pattern_angle)


def sample_scene(rng: np.random.Generator, size: int = 224) -> Scene:
    """A random scene of MIN_OBJECTS..MAX_OBJECTS objects on a random background.

    Args:
        rng: the only source of randomness.
        size: the image side in pixels.
    """
    background = sample_background(rng)
    target = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
    placed: list[ShapeObject] = []
    for _ in range(4 * target):
        if len(placed) == target:
            break
        obj = sample_object(rng, placed, size)
        if obj is not None:
            placed.append(obj)
    return Scene(size=size, background=background, objects=tuple(placed))
