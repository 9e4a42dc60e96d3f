"""DenseCap per-image steps: IoU, greedy GT merging, greedy prediction matching (hand cases)."""

from __future__ import annotations

import numpy as np
import pytest

from lavis_dynrefer.evaluation.densecap_matching import (
    box_iou,
    match_predictions,
    merge_boxes,
    merge_ground_truth,
)


def test_box_iou():
    a = np.array([[0, 0, 2, 2]])
    b = np.array([[1, 1, 3, 3], [2, 0, 4, 2], [0, 0, 2, 2], [5, 5, 6, 6]])
    # overlap 1 / union 7; touching edge 0; identical 1; disjoint 0
    np.testing.assert_allclose(box_iou(a, b), [[1 / 7, 0.0, 1.0, 0.0]])
    assert box_iou(a, np.zeros((0, 4))).shape == (1, 0)


def _column(height: float) -> list[float]:
    return [0, 0, 10, height]  # nested boxes of width 10: IoU(h1, h2) = min/max of heights


def test_merge_takes_the_box_with_most_neighbours_first():
    # heights 10, 13, 17, 22: IoU 10-13 .769, 13-17 .765, 17-22 .773 (>= .7);
    # 10-17 .588, 13-22 .591, 10-22 .455 (< .7). Neighbour counts (self included): 2, 3, 3, 2.
    # The first box with the most neighbours (13) takes {10, 13, 17} although IoU(10, 17) < .7;
    # 22 is left alone. (Picking 17, the tied later box, would give {13, 17, 22} and {10}.)
    boxes = np.array([_column(10), _column(13), _column(17), _column(22)])
    groups = merge_boxes(boxes, 0.7)
    assert [g.tolist() for g in groups] == [[0, 1, 2], [3]]


def test_merge_ground_truth_means_boxes_and_pools_captions():
    boxes = np.array([_column(10), [50, 50, 60, 60], _column(11)])  # IoU(10, 11) = 10/11
    merged = merge_ground_truth(boxes, ["red car", "dog", "a red car"])
    np.testing.assert_allclose(merged.boxes, [[0, 0, 10, 10.5], [50, 50, 60, 60]])
    assert merged.references == [["red car", "a red car"], ["dog"]]


def test_merge_of_nothing():
    merged = merge_ground_truth(np.zeros((0, 4)), [])
    assert merged.boxes.shape == (0, 4) and merged.references == []
    with pytest.raises(ValueError, match="captions"):
        merge_ground_truth(np.array([_column(10)]), [])


def test_match_predictions_greedy_by_score():
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10]])
    scores = np.array([0.5, 0.9, 0.7, 0.9])
    boxes = np.array([
        [0, 0, 10, 10],    # p0 IoU 1 with g0, but visited last: g0 is taken -> not ok
        [1, 0, 11, 10],    # p1 IoU 90/110 with g0, visited first (ties keep input order)
        [40, 40, 50, 50],  # p2 overlaps nothing -> group -1
        [20, 0, 30, 10],   # p3 IoU 1 with g1, tie with p1 at 0.9, visited second
    ])
    m = match_predictions(scores, boxes, gt)
    assert m.order.tolist() == [1, 3, 2, 0]
    np.testing.assert_allclose(m.iou, [90 / 110, 1.0, 0.0, 1.0])
    assert m.group.tolist() == [0, 1, -1, 0]
    assert m.ok.tolist() == [True, True, False, False]


def test_match_predictions_without_gt():
    m = match_predictions(np.array([0.3, 0.8]), np.array([[0, 0, 5, 5]] * 2), np.zeros((0, 4)))
    assert m.order.tolist() == [1, 0]
    assert m.group.tolist() == [-1, -1] and not m.ok.any() and not m.iou.any()
