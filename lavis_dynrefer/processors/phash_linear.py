"""The release's pHash computed as a linear map, for many view boxes at once.

Shape letters: M view boxes, h x w a crop.

The release hashes a crop as ``cv2.dct(cv2.resize(crop, (224, 224)))[:8, :8] > mean``. Up to the
comparison that is linear: the resize is ``R_y . crop . R_x^T`` (two bilinear taps per output
pixel, OpenCV's half-pixel centres, clamped at the border) and the top-left 8x8 of the orthonormal
DCT-II is ``D . resized . D^T`` with D the first 8 rows of the 224-point DCT matrix. So the block
is ``A_y . crop . A_x^T`` with ``A = D . R`` of shape [8, side]: 8 * h * w multiply-adds per box
instead of a 224 x 224 DCT (which dominated: ~0.3 ms per hash). Large crops are resized by
OpenCV first (as the release does) and only the 8 DCT rows applied, batched.

The release computes in float32; here the block is float64. Every coefficient further than
``margin`` from the block's mean gets the release's bit for certain (the float32 error is orders
of magnitude smaller, see ``tests/processors/test_phash_linear.py``); a box with any coefficient
within the margin is hashed the release's way (``phash.release_phash_of_array``), so the bits are
always the release's.
"""

from __future__ import annotations

import functools
import logging

import cv2
import numpy as np

from lavis_dynrefer.processors.phash import HASH_BITS, RELEASE_RESIZE, release_phash_of_array

logger = logging.getLogger(__name__)

BLOCK = 8
# Above this many pixels a crop is cheaper to resize first (see ``release_blocks``).
DIRECT_AREA = 2 * RELEASE_RESIZE * RELEASE_RESIZE
RESIZED_BATCH = 32
# Relative to the largest coefficient magnitude a 0-255 crop can reach (255 * 224, the DC of a
# white crop): the release's float32 resize + DCT differ from the float64 block by < 3e-7 of it
# (0.016 measured on real photos); 1e-5 leaves a factor of ~30.
RELATIVE_MARGIN = 1e-5
DEFAULT_MARGIN = RELATIVE_MARGIN * 255.0 * RELEASE_RESIZE


@functools.lru_cache(maxsize=1)
def dct_rows(size: int = RELEASE_RESIZE, rows: int = BLOCK) -> np.ndarray:
    """First ``rows`` rows of the orthonormal DCT-II matrix (``cv2.dct``'s scaling).

    Returns:
        [rows, size] float64.
    """
    k = np.arange(rows, dtype=np.float64)[:, None]
    n = np.arange(size, dtype=np.float64)[None, :]
    scale = np.where(k == 0, np.sqrt(1.0 / size), np.sqrt(2.0 / size))
    return scale * np.cos(np.pi * (2 * n + 1) * k / (2 * size))


def bilinear_taps(src: int, dst: int = RELEASE_RESIZE) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's INTER_LINEAR taps for resizing ``src`` pixels to ``dst``.

    As ``cv2.resize`` weighs float images (checked against it on identity matrices):
    ``fx = (d + 0.5) * scale - 0.5`` in float64, ``sx = floor(fx)``, ``frac = fx - sx`` rounded to
    float32, weights ``(1 - frac, frac)``; a tap left of the first pixel or right of the last is
    clamped to it with weight (1, 0).

    Returns:
        sx [dst] int64 first source index, frac [dst] float32 weight of ``sx + 1``.
    """
    scale = 1.0 / (dst / src)  # OpenCV: scale_x = 1. / inv_scale_x, inv_scale_x = dst / src
    fx = (np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5
    sx = np.floor(fx).astype(np.int64)
    frac = (fx - sx).astype(np.float32)
    low = sx < 0
    frac[low], sx[low] = 0.0, 0
    high = sx >= src - 1
    frac[high], sx[high] = 0.0, src - 1
    return sx, frac


def resize_matrix(src: int, dst: int = RELEASE_RESIZE) -> np.ndarray:
    """The bilinear resize as a matrix: ``cv2.resize`` of a column is ``R . column``.

    Returns:
        [dst, src] float64, the float32 weights OpenCV uses.
    """
    sx, frac = bilinear_taps(src, dst)
    out = np.zeros((dst, src), np.float64)
    rows = np.arange(dst)
    out[rows, sx] += (np.float32(1.0) - frac).astype(np.float64)  # 1.f - fx, in float32
    # frac is 0 wherever sx is the last pixel, so sx + 1 only matters where it exists.
    np.add.at(out, (rows, np.minimum(sx + 1, src - 1)), frac.astype(np.float64))
    return out


@functools.lru_cache(maxsize=8192)
def projection(side: int) -> np.ndarray:
    """A = D . R for one crop side: the 8 DCT rows of the resized crop, as weights on its pixels.

    Returns:
        [8, side] float64 (read-only; cached per side length).
    """
    out = dct_rows() @ resize_matrix(side)
    out.setflags(write=False)
    return out


def release_blocks(gray: np.ndarray, boxes: np.ndarray, gray32: np.ndarray | None = None
                   ) -> np.ndarray:
    """Top-left 8x8 DCT blocks of the resized crops, in float64.

    A crop of up to ``DIRECT_AREA`` pixels goes through ``A_y . crop . A_x^T``; a larger one
    is resized by ``cv2.resize`` itself (cheap: two taps per output pixel, whatever the crop's
    size) and its block taken as ``D . resized . D^T``, many crops per matrix product.

    Args:
        gray: [H, W] grey image (float64 for the exactness margin to hold; float32 works).
        boxes: [M, 4] int XYXY boxes inside the image, each at least 1 px.
        gray32: the same image as float32 for ``cv2.resize`` (default: ``gray`` cast).

    Returns:
        [M, 8, 8] float64.
    """
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    out = np.empty((len(boxes), BLOCK, BLOCK), np.float64)
    gray32 = gray.astype(np.float32) if gray32 is None else gray32
    large = []
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        if (y2 - y1) * (x2 - x1) <= DIRECT_AREA:
            out[i] = projection(y2 - y1) @ gray[y1:y2, x1:x2] @ projection(x2 - x1).T
        else:
            large.append(i)
    # float32 here: the resized crop is the release's own float32 array, and 224-term float32
    # sums add < 0.005 to the block (a hundredth of the margin).
    rows = dct_rows().astype(np.float32)
    resized = np.empty((min(len(large), RESIZED_BATCH), RELEASE_RESIZE, RELEASE_RESIZE),
                       np.float32)
    for start in range(0, len(large), RESIZED_BATCH):
        chunk = large[start:start + RESIZED_BATCH]
        for slot, (x1, y1, x2, y2) in enumerate(boxes[chunk].tolist()):
            cv2.resize(gray32[y1:y2, x1:x2], (RELEASE_RESIZE, RELEASE_RESIZE), dst=resized[slot])
        out[chunk] = rows @ resized[:len(chunk)] @ rows.T
    return out


def release_hashes(gray: np.ndarray, boxes: np.ndarray, margin: float = DEFAULT_MARGIN,
                   gray64: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """The release's pHash of many boxes, bit for bit.

    Args:
        gray: [H, W] float32 grey image as the release makes it (``cv2.cvtColor`` then float32).
        boxes: [M, 4] int XYXY boxes inside the image, each at least 1 px.
        margin: coefficients closer than this to their block's mean are not trusted; their box
            is hashed the release's way.
        gray64: ``gray`` as float64, when the caller keeps it for many calls.

    Returns:
        hashes [M, 64] bool (row-major 8x8), and how many boxes were hashed the release's way.
    """
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    gray64 = gray.astype(np.float64) if gray64 is None else gray64
    blocks = release_blocks(gray64, boxes, gray32=gray).reshape(-1, HASH_BITS)
    centred = blocks - blocks.mean(axis=1, keepdims=True)
    hashes = centred > 0
    unsure = np.flatnonzero((np.abs(centred) <= margin).any(axis=1))
    for i in unsure.tolist():
        x1, y1, x2, y2 = boxes[i].tolist()
        hashes[i] = release_phash_of_array(gray[y1:y2, x1:x2])
    if len(unsure):
        logger.debug("%d of %d boxes hashed the release's way (coefficient near the mean)",
                     len(unsure), len(boxes))
    return hashes, len(unsure)
