"""Pure box arithmetic of DynRefer's nested views (method.md section 1).

Shape letters: R regions, N candidate coefficients, V chosen views.
A view box for coefficient t interpolates the referred box b toward the image box I = (0, 0, W, H):
b_t = b + (I - b) * t, computed in float32 and truncated to integers, exactly as the authors'
release does, so that hashes and crops match theirs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def validate_boxes(boxes: Sequence[Sequence[float]] | np.ndarray, width: int, height: int
                   ) -> np.ndarray:
    """Check XYXY pixel boxes and clip them to the image.

    Args:
        boxes: R boxes, each 4 numbers (x1, y1, x2, y2) in pixels.
        width, height: image size in pixels.

    Returns:
        [R, 4] float32, clipped to [0, W] x [0, H].

    Raises:
        ValueError: naming the index and value of a box that is not 4 finite numbers, is reversed
            (x2 < x1 or y2 < y1), or is empty after clipping.
    """
    if width < 1 or height < 1:
        raise ValueError(f"image must be at least 1x1 px, got {width}x{height}")
    if isinstance(boxes, np.ndarray) and boxes.size == 0:
        return np.zeros((0, 4), np.float32)
    out = np.zeros((len(boxes), 4), np.float32)
    for i, box in enumerate(boxes):
        try:
            values = [float(v) for v in box]
        except (TypeError, ValueError):
            raise ValueError(f"box {i}: expected 4 numbers (x1, y1, x2, y2), got {box!r}") from None
        if len(values) != 4:
            raise ValueError(f"box {i}: expected 4 numbers (x1, y1, x2, y2), got {box!r}")
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"box {i}: coordinates must be finite, got {values}")
        x1, y1, x2, y2 = values
        if x2 < x1 or y2 < y1:
            raise ValueError(
                f"box {i}: reversed box {values} (XYXY expects x2 >= x1 and y2 >= y1; "
                "an XYWH box must be converted first)"
            )
        clipped = [min(max(x1, 0.0), width), min(max(y1, 0.0), height),
                   min(max(x2, 0.0), width), min(max(y2, 0.0), height)]
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            raise ValueError(
                f"box {i}: {values} is empty after clipping to the {width}x{height} image "
                f"(clipped: {clipped})"
            )
        out[i] = clipped
    return out


def view_boxes(boxes: np.ndarray, ts: Sequence[float] | np.ndarray, width: int, height: int
               ) -> np.ndarray:
    """View boxes b_t for every region and coefficient.

    Args:
        boxes: [R, 4] float32 boxes already clipped to the image (see ``validate_boxes``).
        ts: N coefficients in [0, 1]; 0 is the box itself, 1 the whole image.
        width, height: image size in pixels.

    Returns:
        [R, N, 4] int64 view boxes XYXY, inside the image, each at least 1 px wide and high.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    ts = np.asarray(ts, np.float32).reshape(-1)
    image_box = np.array([0, 0, width, height], np.float32)
    # (I - b) * t + b, in this order and in float32, as the release computes it.
    interp = boxes[:, None, :] + (image_box - boxes)[:, None, :] * ts[None, :, None]
    interp[..., 0::2] = np.clip(interp[..., 0::2], 0, width)
    interp[..., 1::2] = np.clip(interp[..., 1::2], 0, height)
    out = interp.astype(np.int64)  # truncation, as in the release
    # Keep >= 1 px. Since trunc(x1) <= x1 < x2 <= W, trunc(x1) + 1 <= W: widening stays inside.
    out[..., 2] = np.maximum(out[..., 2], out[..., 0] + 1)
    out[..., 3] = np.maximum(out[..., 3], out[..., 1] + 1)
    return out


def box_in_view(boxes: np.ndarray, views: np.ndarray, size: int, release: bool = True
                ) -> np.ndarray:
    """Express each referred box in the S x S frame of each of its views.

    x' = (x - X1) * S / (X2 - X1), y' likewise (aspect ratio is not kept by the view resize).
    ``release`` (the default) does it as the authors' release does, whose weights were trained
    on these boxes: the int64 box minus the view's int64 corner, times torchvision v2
    ``Resize``'s float32 ratio S / side, truncated back to int64. Up to 1 px differs from the
    exact frame, and a view whose side does not divide evenly (23, 46, 83, 92 px, ...) can map
    even the box itself to (0, 0, S, S - 1).

    Args:
        boxes: [R, 4] referred boxes in image pixels (the truncated t = 0 view box for the
            release's frame).
        views: [R, V, 4] view boxes in image pixels.
        size: S, the side of the resized view.
        release: the release's integer frame; False keeps the exact fractional one.

    Returns:
        [R, V, 4] float32 boxes in view pixels.
    """
    if release:
        boxes = np.asarray(boxes, np.int64)[:, None, :]
        views = np.asarray(views, np.int64)
        shifted = boxes - views[..., [0, 1, 0, 1]]
        extent = views[..., [2, 3, 2, 3]] - views[..., [0, 1, 0, 1]]
        # torchvision: ratios = torch.tensor([S / w, S / h, S / w, S / h]) (float64 quotient,
        # stored float32); int64 boxes .mul(ratios) is float32; .to(int64) truncates.
        ratio = (size / extent).astype(np.float32)
        return (shifted.astype(np.float32) * ratio).astype(np.int64).astype(np.float32)
    boxes = np.asarray(boxes, np.float64)[:, None, :]
    views = np.asarray(views, np.float64)
    origin = views[..., [0, 1, 0, 1]]
    extent = (views[..., [2, 3, 2, 3]] - origin)
    return ((boxes - origin) * size / extent).astype(np.float32)
