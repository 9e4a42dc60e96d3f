"""Perceptual hashes of view crops, for choosing views by novelty (method.md section 1).

Two definitions, chosen by name:

- ``release`` (default): the authors' release. OpenCV grey (``COLOR_RGB2GRAY``) as float32, crop,
  ``cv2.resize`` to 224x224 (INTER_LINEAR), ``cv2.dct`` of the whole 224x224 array, the top-left
  8x8 block (DC included), bit = coefficient > mean of the 64. Other resizers or grey conversions
  move coefficients across the mean and change the chosen views, so nothing here is "improved".
- ``imagehash``: ``imagehash.phash`` (Pillow grey, 32x32 antialiased resize, median threshold).

A ``ViewHasher`` is made once per image: it converts the image to grey once and never hashes the
same view box twice (dense captioning hashes ~11 views for each of ~50-250 regions, and the whole
image view, t = 1, is shared by all of them). With ``fast`` (the default) it hashes the release's
way in one linear map per box (``phash_linear``), bit for bit the same as
``release_phash_of_array``, which stays the reference.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from lavis_dynrefer.processors.threads import chunks, map_in_threads

HASH_BITS = 64
RELEASE_RESIZE = 224
HASH_NAMES = ("release", "imagehash")


def release_phash_of_array(gray: np.ndarray) -> np.ndarray:
    """The release's pHash of a float32 grey crop.

    Args:
        gray: [h, w] float32 grey values (0-255 scale), h, w >= 1.

    Returns:
        [64] bool, row-major over the top-left 8x8 DCT block.
    """
    resized = cv2.resize(np.ascontiguousarray(gray, np.float32), (RELEASE_RESIZE, RELEASE_RESIZE))
    block = cv2.dct(resized)[:8, :8]
    return (block > block.mean()).reshape(-1)


def imagehash_phash_of_image(gray: Image.Image) -> np.ndarray:
    """``imagehash.phash`` of a PIL crop, as a [64] bool array (row-major 8x8)."""
    import imagehash

    return np.asarray(imagehash.phash(gray).hash, dtype=bool).reshape(-1)


def hamming(reference: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Hamming distances between one hash [64] and M hashes [M, 64] -> [M] int64."""
    return np.count_nonzero(np.asarray(others) != np.asarray(reference)[None, :], axis=-1)


class ViewHasher:
    """Hashes view boxes of one image, each distinct box once.

    Args:
        image: the RGB image the boxes refer to.
        method: ``"release"`` or ``"imagehash"``.
        fast: hash ``release`` boxes through ``phash_linear`` (same bits, ~6x faster); False
            hashes each box with ``release_phash_of_array``.
        threads: the fast path splits new boxes over this many threads (the same bits).
    """

    def __init__(self, image: Image.Image, method: str = "release", fast: bool = True,
                 threads: int = 1):
        if method not in HASH_NAMES:
            raise ValueError(f"unknown hash {method!r}; choose one of {HASH_NAMES}")
        self.method = method
        self.fast = fast and method == "release"
        self.threads = threads
        self.num_slow = 0  # boxes the fast path handed to the release's own hash
        self._cache: dict[tuple[int, int, int, int], np.ndarray] = {}
        self._gray64: np.ndarray | None = None
        if method == "release":
            gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
            self._gray = gray.astype(np.float32)
            self._hash_box: Callable[[tuple[int, int, int, int]], np.ndarray] = self._release
        else:
            self._gray_image = image.convert("L")
            self._hash_box = self._imagehash

    def _release(self, box: tuple[int, int, int, int]) -> np.ndarray:
        x1, y1, x2, y2 = box
        return release_phash_of_array(self._gray[y1:y2, x1:x2])

    def _imagehash(self, box: tuple[int, int, int, int]) -> np.ndarray:
        return imagehash_phash_of_image(self._gray_image.crop(box))

    def __call__(self, boxes: np.ndarray) -> np.ndarray:
        """Hash integer view boxes.

        Args:
            boxes: [M, 4] int XYXY view boxes inside the image.

        Returns:
            [M, 64] bool hashes.
        """
        boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
        if self.fast:
            self._hash_new_at_once(boxes)
        out = np.zeros((len(boxes), HASH_BITS), bool)
        for i, box in enumerate(map(tuple, boxes.tolist())):
            cached = self._cache.get(box)
            if cached is None:
                cached = self._cache[box] = self._hash_box(box)
            out[i] = cached
        return out

    def _hash_new_at_once(self, boxes: np.ndarray) -> None:
        # Imported here: phash_linear builds on this module's reference hash.
        from lavis_dynrefer.processors.phash_linear import release_hashes

        new = list(dict.fromkeys(b for b in map(tuple, boxes.tolist()) if b not in self._cache))
        if not new:
            return
        if self._gray64 is None:  # made on first use: the slow path never needs it
            self._gray64 = self._gray.astype(np.float64)
        boxes_new = np.array(new, np.int64)
        parts = chunks(len(new), self.threads)
        results = map_in_threads(
            lambda k: release_hashes(self._gray, boxes_new[parts[k].start:parts[k].stop],
                                     gray64=self._gray64), len(parts), self.threads)
        self.num_slow += sum(num_slow for _, num_slow in results)
        self._cache.update(zip(new, (h for hashes, _ in results for h in hashes)))

    @property
    def num_hashed(self) -> int:
        """How many distinct boxes were hashed so far."""
        return len(self._cache)
