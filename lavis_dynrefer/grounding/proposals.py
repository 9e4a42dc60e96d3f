"""Class-agnostic box proposals without any learned weights: selective search (Uijlings et al.,
IJCV 2013) on Felzenszwalb's graph segmentation (``skimage``, which LAVIS already installs).

Each scale segments the image, then merges the two most similar neighbouring regions until one
is left (similarity = colour-histogram intersection + how small the pair is + how well it fills
its bounding box); the box of every region ever formed is a proposal. Boxes of all scales are
pooled, duplicates dropped, small first within each scale's hierarchy, scales interleaved.
Shape letters: P proposals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

BINS = 25


@dataclass(frozen=True)
class ProposalConfig:
    """Segmentation scales (Felzenszwalb's k), its smoothing and minimum segment size (as a
    share of k), the smallest box side kept, and how many boxes at most."""

    scales: tuple[float, ...] = (50.0, 100.0, 200.0, 400.0)
    sigma: float = 0.8
    min_size_ratio: float = 0.2
    min_side: int = 4
    max_boxes: int = 300


@dataclass
class _Region:
    box: np.ndarray  # [4] x1, y1, x2, y2 (exclusive ends)
    size: int
    hist: np.ndarray  # [3 * BINS], L1-normalised


def _regions(labels: np.ndarray, pixels: np.ndarray) -> dict[int, _Region]:
    regions = {}
    ys, xs = np.indices(labels.shape)
    for label in np.unique(labels):
        mask = labels == label
        y, x = ys[mask], xs[mask]
        colours = pixels[mask]
        hist = np.concatenate([np.histogram(colours[:, c], bins=BINS, range=(0, 256))[0]
                               for c in range(3)]).astype(np.float64)
        regions[int(label)] = _Region(np.array([x.min(), y.min(), x.max() + 1, y.max() + 1]),
                                      int(mask.sum()), hist / hist.sum())
    return regions


def _neighbours(labels: np.ndarray) -> set[tuple[int, int]]:
    pairs = set()
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1], labels[1:])):
        differ = a != b
        for u, v in zip(a[differ].tolist(), b[differ].tolist()):
            pairs.add((min(u, v), max(u, v)))
    return pairs


def _similarity(a: _Region, b: _Region, image_size: int) -> float:
    colour = float(np.minimum(a.hist, b.hist).sum()) / 3.0
    size = 1.0 - (a.size + b.size) / image_size
    union = np.concatenate([np.minimum(a.box[:2], b.box[:2]), np.maximum(a.box[2:], b.box[2:])])
    fill = 1.0 - (float(np.prod(union[2:] - union[:2])) - a.size - b.size) / image_size
    return colour + size + fill


def _hierarchy(labels: np.ndarray, pixels: np.ndarray) -> list[np.ndarray]:
    """Boxes of every region of the merge hierarchy, initial segments first."""
    regions = _regions(labels, pixels)
    image_size = labels.size
    boxes = [r.box for r in regions.values()]
    pairs = {pair: _similarity(regions[pair[0]], regions[pair[1]], image_size)
             for pair in _neighbours(labels)}
    next_label = max(regions) + 1
    while pairs:
        a, b = max(pairs, key=pairs.get)
        ra, rb = regions.pop(a), regions.pop(b)
        merged = _Region(np.concatenate([np.minimum(ra.box[:2], rb.box[:2]),
                                         np.maximum(ra.box[2:], rb.box[2:])]),
                         ra.size + rb.size,
                         (ra.hist * ra.size + rb.hist * rb.size) / (ra.size + rb.size))
        neighbours = {u if v in (a, b) else v for u, v in pairs if {u, v} & {a, b}} - {a, b}
        pairs = {pair: s for pair, s in pairs.items() if not {a, b} & set(pair)}
        regions[next_label] = merged
        for n in neighbours:
            pairs[(n, next_label)] = _similarity(regions[n], merged, image_size)
        boxes.append(merged.box)
        next_label += 1
    return boxes


def propose_boxes(image: Image.Image, config: ProposalConfig | None = None) -> np.ndarray:
    """[P, 4] float32 XYXY pixel boxes of ``image``, at most ``config.max_boxes``."""
    from skimage.segmentation import felzenszwalb

    config = config or ProposalConfig()
    pixels = np.asarray(image.convert("RGB"))
    per_scale = [_hierarchy(felzenszwalb(pixels, scale=scale, sigma=config.sigma,
                                         min_size=max(1, int(scale * config.min_size_ratio))),
                            pixels) for scale in config.scales]
    seen, out = set(), []
    for rank in range(max(len(boxes) for boxes in per_scale)):
        for boxes in per_scale:
            if rank < len(boxes):
                box = tuple(int(v) for v in boxes[rank])
                if (box not in seen and box[2] - box[0] >= config.min_side
                        and box[3] - box[1] >= config.min_side):
                    seen.add(box)
                    out.append(box)
    return np.asarray(out[:config.max_boxes], np.float32).reshape(-1, 4)


def proposal_recall(proposals: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                    iou: float = 0.5) -> float:
    """Share (x100) of target boxes, over all images, with a proposal of IoU >= ``iou``.

    >>> targets = [np.array([[0, 0, 10, 12], [50, 50, 60, 60]])]
    >>> proposal_recall([np.array([[0, 0, 10, 10]])], targets)
    50.0
    """
    from lavis_dynrefer.evaluation.densecap_matching import box_iou

    found = total = 0
    for image_proposals, image_targets in zip(proposals, targets):
        if len(image_targets) == 0:
            continue
        total += len(image_targets)
        if len(image_proposals):
            found += int((box_iou(image_targets, image_proposals).max(axis=1) >= iou).sum())
    return 100.0 * found / total if total else float("nan")
