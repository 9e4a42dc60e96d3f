"""A release-style view processor, the baseline of the ``processor`` suite.

Written as the authors' release goes about it, region by region: the image's grey once; per
region the 11 view boxes (t = 0 and the 10 candidates) each hashed by crop + ``cv2.resize`` to
224 + ``cv2.dct`` (``phash.release_phash_of_array``); the extra views by repeated argmax of
Hamming / t, zeroing each pick; per view ``np.array(image)``, crop, torchvision v2 bicubic
``Resize`` (antialiased) and ``Normalize``. Its views are the release's; its pixels come from
torchvision's resize, not PIL's, so they differ from the processor's by a few grey levels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from PIL import Image

from lavis_dynrefer.processors.multi_view import CLIP_MEAN, CLIP_STD, DEFAULT_CANDIDATES
from lavis_dynrefer.processors.phash import hamming, release_phash_of_array
from lavis_dynrefer.processors.view_geometry import validate_boxes, view_boxes


def release_style_views(image: Image.Image, boxes: np.ndarray, num_views: int = 3,
                        size: int = 224,
                        candidates: Sequence[float] = DEFAULT_CANDIDATES
                        ) -> tuple[np.ndarray, torch.Tensor]:
    """Views of every region, one region at a time.

    Args:
        image: RGB image.
        boxes: [R, 4] XYXY pixel boxes.
        num_views: V.
        size: S.
        candidates: the N coefficients.

    Returns:
        view boxes [R, V, 4] int64 and images [R, V, 3, S, S] float32.
    """
    from torchvision.transforms import InterpolationMode, v2

    resize = v2.Resize((size, size), interpolation=InterpolationMode.BICUBIC, antialias=True)
    normalize = v2.Normalize(CLIP_MEAN, CLIP_STD)
    width, height = image.size
    gray = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    ts = np.asarray(candidates, np.float64)
    chosen_boxes, images = [], []
    for box in validate_boxes(boxes, width, height):
        views = np.concatenate([view_boxes(box[None], [0.0], width, height)[0],
                                view_boxes(box[None], ts, width, height)[0]])  # [1 + N, 4]
        hashes = np.stack([release_phash_of_array(gray[y1:y2, x1:x2])
                           for x1, y1, x2, y2 in views.tolist()])
        scores = hamming(hashes[0], hashes[1:]) / ts
        picks = []
        for _ in range(num_views - 1):
            pick = int(np.argmax(scores))
            picks.append(pick)
            scores[pick] = 0.0
        region_views = np.concatenate([views[:1], views[1:][picks]])
        chosen_boxes.append(region_views)
        for x1, y1, x2, y2 in region_views.tolist():
            crop = torch.from_numpy(np.array(image)[y1:y2, x1:x2]).permute(2, 0, 1)
            images.append(normalize(resize(crop).float().div(255.0)))
    out = (torch.stack(images).reshape(len(chosen_boxes), num_views, 3, size, size) if images
           else torch.zeros(0, num_views, 3, size, size))
    return np.array(chosen_boxes, np.int64).reshape(-1, num_views, 4), out
