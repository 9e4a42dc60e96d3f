"""Both AP flavours against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lavis_dynrefer.evaluation.average_precision import (
    average_precision,
    interpolated_average_precision,
)


@pytest.mark.parametrize(("labels", "scores", "expected"), [
    # ranks: +(P 1, R 1/2) -(.) +(P 2/3, R 1) -  ->  1/2 * 1 + 1/2 * 2/3 = 5/6
    ([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6], 5 / 6),
    # all positives first -> 1
    ([1, 1, 0], [0.9, 0.8, 0.1], 1.0),
    # the only positive last of 3 -> P = 1/3 at R = 1
    ([0, 0, 1], [0.9, 0.8, 0.7], 1 / 3),
    # tie at 0.5 is ONE threshold: {+,-} gives P 1/2 at R 1/2; then + gives P 2/3 at R 1
    # -> 1/2 * 1/2 + 1/2 * 2/3 = 7/12, whatever the order inside the tie
    ([1, 0, 1], [0.5, 0.5, 0.2], 7 / 12),
    ([0, 1, 1], [0.5, 0.5, 0.2], 7 / 12),
    # all scores tied -> one threshold, P = 2/4 at R = 1
    ([1, 0, 0, 1], [0.3, 0.3, 0.3, 0.3], 0.5),
])
def test_sklearn_style_average_precision(labels, scores, expected):
    assert average_precision(np.array(labels), np.array(scores)) == pytest.approx(expected,
                                                                                  abs=1e-12)


def test_average_precision_without_positive_is_nan():
    assert math.isnan(average_precision(np.array([0, 0]), np.array([0.1, 0.9])))
    assert math.isnan(average_precision(np.zeros(0), np.zeros(0)))


def test_average_precision_shape_mismatch():
    with pytest.raises(ValueError, match="differ in shape"):
        average_precision(np.array([1, 0]), np.array([0.5]))


def test_interpolated_ap_hand_computed():
    # ranked T F T, npos 4: recall .25 .25 .5, precision 1 .5 2/3.
    # r = 0..0.25 (26 levels) -> 1; r = 0.26..0.50 (25 levels) -> 2/3; r >= 0.51 (49) -> 0
    # AP = (26 + 25 * 2/3) / 100
    expected = (26 + 25 * 2 / 3) / 100
    assert interpolated_average_precision(np.array([True, False, True]), 4) == pytest.approx(
        expected, abs=1e-12)


def test_interpolated_ap_recall_levels_are_exact():
    # 7 TPs of npos 100 reach recall exactly 0.07: levels 0, 0.01, ..., 0.07 (8 of them) -> 0.08.
    # (Accumulating 0.01 in floating point would make 0.07 slightly larger and give 0.07.)
    assert interpolated_average_precision(np.ones(7, bool), 100) == pytest.approx(0.08,
                                                                                  abs=1e-12)


def test_interpolated_ap_edge_cases():
    assert interpolated_average_precision(np.zeros(0, bool), 3) == 0.0  # no detections
    assert interpolated_average_precision(np.zeros(5, bool), 3) == 0.0  # only false positives
    assert interpolated_average_precision(np.ones(3, bool), 3) == 1.0  # perfect
    with pytest.raises(ValueError, match="npos"):
        interpolated_average_precision(np.ones(1, bool), 0)
