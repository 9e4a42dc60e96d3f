"""A release-style view processor, the baseline of the ``processor`` suite.

Written as the authors' release goes about it (``dynrefer/datasets/processor.py`` of
callsys/DynRefer, ``DynReferProcessor``), region by region: the image's grey once; per region
the 11 view boxes (t = 0 and the 10 candidates) each hashed by crop + ``cv2.resize`` to 224 +
``cv2.dct`` (``phash.release_phash_of_array``); the extra views by repeated argmax of Hamming /
t, zeroing each pick; per view ``Image.fromarray(np.array(image)[y1:y2, x1:x2])`` (the whole
image converted again for every view) through the release's v2 ``Compose``: bicubic ``Resize``
of that PIL image (torchvision hands PIL images to PIL's own resize), ``ToImage``,
``ConvertImageDtype``, ``Normalize``. Its views and pixels are the release's, and the
processor's default (PIL) rendering must equal them bit for bit.
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

    transform = v2.Compose([v2.Resize((size, size), interpolation=InterpolationMode.BICUBIC),
                            v2.ToImage(), v2.ConvertImageDtype(),
                            v2.Normalize(CLIP_MEAN, CLIP_STD)])
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
            images.append(transform(Image.fromarray(np.array(image)[y1:y2, x1:x2])))
    out = (torch.stack(images).reshape(len(chosen_boxes), num_views, 3, size, size) if images
           else torch.zeros(0, num_views, 3, size, size))
    return np.array(chosen_boxes, np.int64).reshape(-1, num_views, 4), out
