"""Rendering a ``Scene`` into an RGB image, and what the picture says about each object.

Shapes are rasterized with PIL ``ImageDraw`` (no anti-aliasing, so every painted pixel carries the
object's exact colour); backgrounds and fill patterns are vectorised numpy. Objects are painted
back to front, so the returned ``visible`` fraction and the ``above`` / ``below`` sets come from
the picture itself: they drive the occlusion attribute, the "in front of" / "behind" relations and
the unknown (-1) labels of mostly hidden objects.

The box of an object is the bounding box of its whole shape (before occlusion), clipped to the
image: XYXY pixel edges, so the object's pixels are exactly the columns x1..x2-1 and rows
y1..y2-1 it touches.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from lavis_dynrefer.shapes.scene import Background, Scene, ShapeObject

Box = tuple[int, int, int, int]

TINT = 0.6  # stripes and dots mix the object colour with this much white
NOISE_GRID = 6  # coarse cells of the noise background
GRAIN = 5.0  # pixel noise of the noise background (grey levels, standard deviation)


def _regular(corners: int, start: float, inner: float | None = None) -> np.ndarray:
    """Unit-circumradius regular polygon (or star, with ``inner`` radius), angles in degrees."""
    points = corners * (2 if inner else 1)
    angles = np.deg2rad(start + np.arange(points) * 360.0 / points)
    radii = np.ones(points) if inner is None else np.where(np.arange(points) % 2, inner, 1.0)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _cross(arm: float = 0.32, reach: float = 0.95) -> np.ndarray:
    a, r = arm, reach
    return np.array([(a, -r), (a, -a), (r, -a), (r, a), (a, a), (a, r),
                     (-a, r), (-a, a), (-r, a), (-r, -a), (-a, -a), (-a, -r)])


def _heart(points: int = 32) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * math.pi, points, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    xy = np.stack([x, y - (y.max() + y.min()) / 2], axis=1)
    return xy / np.hypot(xy[:, 0], xy[:, 1]).max()


# Unit outlines (y down, as on screen), every point within radius 1 of the centre.
UNIT_POLYGONS: dict[str, np.ndarray] = {
    "square": _regular(4, 45.0),
    "diamond": _regular(4, 0.0) * np.array([0.7, 1.0]),
    "triangle": _regular(3, -90.0),
    "star": _regular(5, -90.0, inner=0.45),
    "hexagon": _regular(6, 0.0),
    "cross": _cross(),
    "heart": _heart(),
}


@dataclasses.dataclass(frozen=True)
class RenderedObject:
    """What the image shows of one object (index = its position in ``Scene.objects``).

    Attributes:
        box: XYXY pixel box of the whole shape, clipped to the image.
        area: painted pixels inside the image (the ring only, for an outlined object).
        visible: fraction of ``area`` not covered by objects drawn later.
        above: indices of the objects whose shape this one overlaps and is drawn over.
        below: indices of the objects drawn over this one where their shapes overlap.
    """

    box: Box
    area: int
    visible: float
    above: frozenset[int]
    below: frozenset[int]


@dataclasses.dataclass(frozen=True)
class RenderedScene:
    """``image``: [H, W, 3] uint8; ``objects``: one entry per scene object, same order."""

    image: np.ndarray
    objects: tuple[RenderedObject, ...]


def outline_points(obj: ShapeObject) -> list[tuple[float, float]]:
    """The polygon of a non-circle object in pixels (rotation applied)."""
    theta = math.radians(-obj.rotation)  # counter-clockwise on screen, where y points down
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    xy = UNIT_POLYGONS[obj.shape] @ rotation.T * obj.radius + np.array([obj.cx, obj.cy])
    return [(float(x), float(y)) for x, y in xy]


def shape_mask(obj: ShapeObject, size: int) -> np.ndarray:
    """[H, W] bool: the pixels of the whole (filled) shape."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if obj.shape == "circle":
        r = obj.radius
        draw.ellipse([obj.cx - r, obj.cy - r, obj.cx + r, obj.cy + r], fill=255)
    else:
        draw.polygon(outline_points(obj), fill=255)
    return np.asarray(canvas) > 0


def mask_box(mask: np.ndarray) -> Box | None:
    """XYXY pixel-edge box of the True pixels of [H, W] ``mask``; None when there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _crop(box: Box) -> tuple[slice, slice]:
    return slice(box[1], box[3]), slice(box[0], box[2])


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    """[h, w] bool eroded ``steps`` times by a 3 x 3 square; beyond its edge the mask repeats."""
    eroded = np.pad(mask, steps, mode="edge")
    for _ in range(steps):
        vertical = eroded.copy()
        vertical[1:-1] &= eroded[:-2] & eroded[2:]
        eroded = vertical.copy()
        eroded[:, 1:-1] &= vertical[:, :-2] & vertical[:, 2:]
    return eroded[steps:-steps, steps:-steps]


def _ring(full: np.ndarray, box: Box, radius: float) -> np.ndarray:
    """[h, w] bool over ``box``: the border band of the [H, W] shape mask ``full``.

    The band is about a fifth of the radius wide. The mask is eroded over the box grown by the
    band width: inside the image that margin is empty, so the shape's own edge makes the band;
    at the image edge the mask repeats outward, so a cut object gets no band along the cut.
    """
    steps = max(2, round(radius * 0.2))
    height, width = full.shape
    x1, y1 = max(box[0] - steps, 0), max(box[1] - steps, 0)
    x2, y2 = min(box[2] + steps, width), min(box[3] + steps, height)
    inner = _erode(full[y1:y2, x1:x2], steps)
    inner = inner[box[1] - y1:box[3] - y1, box[0] - x1:box[2] - x1]
    return full[_crop(box)] & ~inner


def _paint_colors(obj: ShapeObject, box: Box) -> np.ndarray:
    """[h, w, 3] uint8: the object's colour over its box, with its stripes or dots."""
    x1, y1, x2, y2 = box
    rgb = np.array(obj.rgb, dtype=np.float64)
    tint = (rgb * (1.0 - TINT) + 255.0 * TINT).round()
    ys, xs = np.ogrid[y1:y2, x1:x2]
    period = max(5.0, obj.radius / 3.0)
    if obj.fill == "striped":
        angle = math.radians(obj.pattern_angle)
        along = xs * math.cos(angle) + ys * math.sin(angle)
        light = np.floor(along / (period / 2.0)).astype(np.int64) % 2 == 1
    elif obj.fill == "dotted":
        dy = (ys - obj.cy) % period - period / 2.0
        dx = (xs - obj.cx) % period - period / 2.0
        light = dx * dx + dy * dy <= (period * 0.28) ** 2
    else:
        light = np.zeros((y2 - y1, x2 - x1), dtype=bool)
    return np.where(light[..., None], tint, rgb).astype(np.uint8)


def render_background(background: Background, size: int) -> np.ndarray:
    """[H, W, 3] uint8 background: plain, a two-colour gradient, or value noise.

    Only [H, W] weights are numpy; blending and grain run in PIL (three-channel float numpy
    here was a quarter of the time per image).
    """
    first, second = (Image.new("RGB", (size, size), color) for color in background.colors)
    if background.kind == "plain":
        return np.array(first)
    ys, xs = (g.astype(np.float32) / max(size - 1, 1) - 0.5 for g in np.ogrid[0:size, 0:size])
    rng = np.random.default_rng(background.seed)
    if background.kind == "gradient":
        angle = math.radians(background.angle)
        weight = np.clip((xs * math.cos(angle) + ys * math.sin(angle)) * math.sqrt(2) + 0.5, 0, 1)
    else:
        coarse = rng.uniform(0.0, 1.0, (NOISE_GRID, NOISE_GRID)).astype(np.float32)
        weight = 0.6 * np.asarray(Image.fromarray(coarse).resize((size, size),
                                                                 Image.Resampling.BILINEAR))
    image = Image.composite(second, first, Image.fromarray(_to_uint8(weight * 255.0)))
    if background.kind == "noise":
        grain = Image.fromarray(_to_uint8(rng.standard_normal((size, size), np.float32) * GRAIN
                                          + 128.0))
        image = ImageChops.add(image, Image.merge("RGB", (grain, grain, grain)), offset=-128)
    return np.array(image)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def render_scene(scene: Scene) -> RenderedScene:
    """Paint the background, then every object back to front; measure what stays visible.

    Returns:
        The [H, W, 3] uint8 image and one ``RenderedObject`` per object (objects entirely
        outside the image cannot occur: centres lie inside it).
    """
    size = scene.size
    image = render_background(scene.background, size)
    owner = np.full((size, size), -1, dtype=np.int64)  # index of the object that painted a pixel
    boxes: list[Box] = []
    shapes: list[np.ndarray] = []  # [h, w] whole-shape masks over each box
    areas: list[int] = []
    for index, obj in enumerate(scene.objects):
        full = shape_mask(obj, size)
        box = mask_box(full)
        if box is None:
            raise ValueError(f"object {index} ({obj.shape} at {obj.cx}, {obj.cy}) is off-image")
        crop = _crop(box)
        shape = full[crop]
        painted = _ring(full, box, obj.radius) if obj.fill == "outlined" else shape
        image[crop][painted] = _paint_colors(obj, box)[painted]
        owner[crop][painted] = index
        boxes.append(box)
        shapes.append(shape)
        areas.append(int(painted.sum()))
    visible = np.bincount(owner[owner >= 0], minlength=len(boxes))
    above: list[set[int]] = [set() for _ in boxes]
    below: list[set[int]] = [set() for _ in boxes]
    for back in range(len(boxes)):
        for front in range(back + 1, len(boxes)):
            if _shapes_overlap(boxes[back], shapes[back], boxes[front], shapes[front]):
                above[front].add(back)
                below[back].add(front)
    objects = tuple(
        RenderedObject(box=boxes[i], area=areas[i],
                       visible=round(float(visible[i]) / max(areas[i], 1), 4),
                       above=frozenset(above[i]), below=frozenset(below[i]))
        for i in range(len(boxes)))
    return RenderedScene(image=image, objects=objects)


def _shapes_overlap(box_a: Box, shape_a: np.ndarray, box_b: Box, shape_b: np.ndarray) -> bool:
    """Whether two whole-shape masks (each over its own box) share a pixel."""
    x1, y1 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x2, y2 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    if x2 <= x1 or y2 <= y1:
        return False
    a = shape_a[y1 - box_a[1]:y2 - box_a[1], x1 - box_a[0]:x2 - box_a[0]]
    b = shape_b[y1 - box_b[1]:y2 - box_b[1], x1 - box_b[0]:x2 - box_b[0]]
    return bool((a & b).any())
