"""DenseCap's per-image steps (Johnson et al. 2016, ``eval/eval_utils.lua``): GT merging, matching.

1. GT boxes that overlap by IoU >= 0.7 are merged, greedily as the Lua ``merge_boxes`` does: take
   the remaining box with the most remaining boxes at IoU >= 0.7 (itself included; ties go to the
   first box), make those boxes one group, remove them, repeat. A group's box is the mean of its
   members' boxes, its references are all their captions.
2. Predictions are visited by descending score; each takes its max-IoU merged GT box (ties go to
   the first group); the match counts ("ok") only if that GT is still unused, which it then uses.
   A prediction that overlaps no GT box at all matches nothing.

IoU is continuous (area = (x2 - x1) * (y2 - y1)), as in the PyTorch port of this protocol that
GRiT and DynRefer report with; the Lua original added 1 pixel to widths and heights.

Shape letters: M GT boxes, G merged groups, P predictions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

MERGE_IOU = 0.7


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of XYXY boxes.

    Args:
        a: [P, 4]; b: [M, 4].

    Returns:
        [P, M] IoU in [0, 1] (0 where the union is empty).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0.0, None).prod(axis=2)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def merge_boxes(boxes: np.ndarray, threshold: float = MERGE_IOU) -> list[np.ndarray]:
    """Greedy grouping of boxes that overlap by IoU >= ``threshold`` (Lua ``merge_boxes``).

    Args:
        boxes: [M, 4] XYXY, each of positive area.

    Returns:
        G index arrays into ``boxes``, in the order the groups were formed; every box is in
        exactly one group.
    """
    overlap = box_iou(boxes, boxes) >= threshold  # [M, M], diagonal True
    groups = []
    while overlap.any():
        top = int(np.argmax(overlap.sum(axis=0)))  # first box with the most neighbours
        members = np.flatnonzero(overlap[top])
        groups.append(members)
        overlap[members, :] = False
        overlap[:, members] = False
    return groups


@dataclasses.dataclass(frozen=True)
class MergedGroundTruth:
    """One image's merged GT: boxes [G, 4] (member means), references [G] lists of captions."""

    boxes: np.ndarray
    references: list[list[str]]


def merge_ground_truth(boxes: np.ndarray, captions: Sequence[str],
                       threshold: float = MERGE_IOU) -> MergedGroundTruth:
    """Merge one image's GT boxes (``merge_boxes``) into group boxes with all member captions.

    Args:
        boxes: [M, 4] XYXY; captions: [M].
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(captions) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(captions)} captions")
    groups = merge_boxes(boxes, threshold)
    merged = np.stack([boxes[g].mean(axis=0) for g in groups]) if groups else np.zeros((0, 4))
    return MergedGroundTruth(merged, [[captions[i] for i in g] for g in groups])


@dataclasses.dataclass(frozen=True)
class ImageMatches:
    """One image's predictions in visiting order (descending score, ties in input order).

    Attributes:
        order: [P] indices into the image's predictions.
        iou: [P] IoU with the max-IoU merged GT box (0 when there is none).
        group: [P] that merged GT's index, -1 when the prediction overlaps no GT box.
        ok: [P] the match counts: that GT box was still unused.
    """

    order: np.ndarray
    iou: np.ndarray
    group: np.ndarray
    ok: np.ndarray


def match_predictions(scores: np.ndarray, boxes: np.ndarray, gt_boxes: np.ndarray
                      ) -> ImageMatches:
    """DenseCap's greedy matching of one image's predictions to its merged GT boxes.

    Args:
        scores: [P]; boxes: [P, 4] XYXY; gt_boxes: [G, 4] merged GT boxes (G may be 0).
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(-scores, kind="stable")
    ious = box_iou(np.asarray(boxes)[order], gt_boxes)  # [P, G]
    num = order.size
    iou, group, ok = np.zeros(num), np.full(num, -1), np.zeros(num, dtype=bool)
    used = np.zeros(ious.shape[1], dtype=bool)
    for rank in range(num):
        if ious.shape[1] == 0:
            break
        best = int(np.argmax(ious[rank]))
        if ious[rank, best] <= 0:
            continue
        iou[rank], group[rank] = ious[rank, best], best
        ok[rank] = not used[best]
        used[best] = True
    return ImageMatches(order=order, iou=iou, group=group, ok=ok)
