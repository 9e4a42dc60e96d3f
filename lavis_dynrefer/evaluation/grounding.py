"""Grounding metrics (x100) from an annotation file and a model's ranked boxes
(``grounding.formats``); a box hits a target at IoU >= 0.5.

- ``rec_accuracy``: referring expression comprehension, top-1 box hits a target, over
  expressions with at least one target (REC's usual one-target case). With a dataset's GT boxes
  as candidates this is the two-stage "ground-truth proposals" protocol.
- ``recall@k``: phrase grounding, MDETR's any-box protocol: one of the top k boxes hits one of
  the targets (k = 1, 5, 10), over expressions with targets.
- zero/one/many (the box version of Ref-ZOM / DMMI's setting): the matched boxes are matched one
  to one to the targets (greedy by IoU); precision, recall and F1 over all expressions (micro);
  ``no_target_accuracy``: expressions without a target for which nothing was matched;
  ``multi_target_recall``: recall over expressions with two or more targets. DMMI scores masks
  (mIoU, oIoU and the empty-mask accuracy); these score boxes and count objects, not pixels.

An expression without a result record counts as answered with no box.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from lavis_dynrefer.evaluation.densecap_matching import box_iou
from lavis_dynrefer.grounding.formats import Expression, Grounded, GroundingFile

HIT_IOU = 0.5
RECALL_KS = (1, 5, 10)


def any_hit(boxes: Sequence[Sequence[float]], targets: Sequence[Sequence[float]]) -> bool:
    """Whether one of ``boxes`` has IoU >= 0.5 with one of ``targets``.

    >>> any_hit([[0, 0, 10, 10]], [[0, 0, 10, 12]])
    True
    >>> any_hit([[0, 0, 10, 10]], [[5, 0, 15, 10]])
    False
    """
    if not len(boxes) or not len(targets):
        return False
    return bool((box_iou(np.asarray(boxes), np.asarray(targets)) >= HIT_IOU).any())


def matched_pairs(boxes: Sequence[Sequence[float]], targets: Sequence[Sequence[float]]) -> int:
    """One-to-one matches at IoU >= 0.5, greedy by descending IoU.

    >>> matched_pairs([[0, 0, 10, 10], [0, 0, 10, 11]], [[0, 0, 10, 10]])
    1
    """
    if not len(boxes) or not len(targets):
        return 0
    iou = box_iou(np.asarray(boxes), np.asarray(targets))
    pairs = sorted(((iou[i, j], i, j) for i in range(iou.shape[0]) for j in range(iou.shape[1])
                    if iou[i, j] >= HIT_IOU), reverse=True)
    used_boxes, used_targets = set(), set()
    for _, i, j in pairs:
        if i not in used_boxes and j not in used_targets:
            used_boxes.add(i)
            used_targets.add(j)
    return len(used_boxes)


def _ratio(numerator: float, denominator: float) -> float:
    return 100.0 * numerator / denominator if denominator else float("nan")


def _answers(gt: GroundingFile, results: Sequence[Grounded]) -> list[tuple[Expression, Grounded]]:
    by_id = {r.expression_id: r for r in results}
    unknown = set(by_id) - {e.id for e in gt.expressions}
    if unknown:
        raise ValueError(f"results name expression ids not in the annotation file, e.g. "
                         f"{sorted(unknown)[:5]}")
    return [(e, by_id.get(e.id, Grounded(e.id, (), (), 0))) for e in gt.expressions]


def evaluate_grounding(gt: GroundingFile, results: Sequence[Grounded]) -> dict[str, float]:
    """Every metric of the module docstring, plus ``rec_accuracy/<kind>`` per expression kind
    and the counts (``expressions``, ``no_target``, ``multi_target``)."""
    answers = _answers(gt, results)
    with_targets = [(e, r) for e, r in answers if e.targets]
    metrics: dict[str, float] = {"expressions": float(len(answers))}
    hits = [any_hit(r.boxes[:1], e.targets) for e, r in with_targets]
    metrics["rec_accuracy"] = _ratio(sum(hits), len(hits))
    kinds = Counter(e.kind for e, _ in with_targets if e.kind)
    for kind in sorted(kinds):
        kind_hits = [h for (e, _), h in zip(with_targets, hits) if e.kind == kind]
        metrics[f"rec_accuracy/{kind}"] = _ratio(sum(kind_hits), len(kind_hits))
    for k in RECALL_KS:
        metrics[f"recall@{k}"] = _ratio(sum(any_hit(r.boxes[:k], e.targets)
                                            for e, r in with_targets), len(with_targets))
    true_pos = sum(matched_pairs(r.matched_boxes, e.targets) for e, r in answers)
    predicted = sum(r.matches for _, r in answers)
    targets = sum(len(e.targets) for e, _ in answers)
    precision, recall = _ratio(true_pos, predicted), _ratio(true_pos, targets)
    metrics["precision"], metrics["recall"] = precision, recall
    if true_pos:
        metrics["f1"] = 2 * precision * recall / (precision + recall)
    else:  # nothing right: 0, unless there was nothing to find and nothing was found
        metrics["f1"] = 0.0 if predicted or targets else float("nan")
    empty = [r.matches == 0 for e, r in answers if not e.targets]
    metrics["no_target"] = float(len(empty))
    metrics["no_target_accuracy"] = _ratio(sum(empty), len(empty))
    many = [(e, r) for e, r in answers if len(e.targets) >= 2]
    metrics["multi_target"] = float(len(many))
    metrics["multi_target_recall"] = _ratio(
        sum(matched_pairs(r.matched_boxes, e.targets) for e, r in many),
        sum(len(e.targets) for e, _ in many))
    return metrics
