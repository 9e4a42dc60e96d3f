"""Region boxes drawn like the benchmarks' inputs.

- ``photo_boxes``: boxes of any size anywhere (the issue's measurements: 10-300 px sides).
- ``vg_boxes``: Visual Genome-like dense captioning: many small boxes, overlapping, around a few
  objects (a cluster centre each, sides mostly 5-25 % of the image, a few large ones).
"""

from __future__ import annotations

import numpy as np


def photo_boxes(num: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """[num, 4] float XYXY boxes, corners uniform, sides 10-300 px, clipped to the image."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (num, 2)) * [width - 10, height - 10]
    wh = rng.uniform(10, 300, (num, 2))
    return np.concatenate([xy, np.minimum(xy + wh, [width, height])], 1)


def vg_boxes(num: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """[num, 4] float XYXY boxes clustered on ~num/8 objects (at least 2), clipped to the image."""
    rng = np.random.default_rng(seed)
    size = np.array([width, height], np.float64)
    centres = rng.uniform(0.15, 0.85, (max(2, num // 8), 2)) * size
    which = rng.integers(0, len(centres), num)
    sides = np.where(rng.uniform(size=(num, 1)) < 0.1, rng.uniform(0.3, 0.9, (num, 2)),
                     rng.uniform(0.05, 0.25, (num, 2))) * size
    centre = centres[which] + rng.normal(0, 0.05, (num, 2)) * size
    lo = np.clip(centre - sides / 2, 0, size - 2)
    hi = np.clip(centre + sides / 2, lo + 2, size)
    return np.concatenate([lo, hi], 1)
