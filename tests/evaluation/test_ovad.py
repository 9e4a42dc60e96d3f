"""OVAD box-given mAP: per-attribute AP over non-ignored boxes, NaN exclusion, frequency groups."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lavis_dynrefer.evaluation.ovad import evaluate_ovad, per_attribute_ap
from lavis_dynrefer.evaluation.results import ResultFormatError

# 4 boxes x 5 attributes (columns), labels 1 / 0 / -1 (ignored)
LABELS = [
    # A0 head, A1 medium, A2 tail, A3 tail, A4 head
    [1, 1, 0, 0, -1],
    [0, -1, 0, 1, -1],
    [1, 0, -1, 0, -1],
    [0, 1, 0, 0, -1],
]
SCORES = [
    [0.9, 0.2, 0.1, 0.1, 0.5],
    [0.8, 0.9, 0.2, 0.3, 0.5],
    [0.7, 0.5, 0.3, 0.2, 0.5],
    [0.6, 0.5, 0.4, 0.4, 0.5],
]
# A0: + - + -                                       -> 1/2 * 1 + 1/2 * 2/3 = 5/6
# A1: box 1 ignored (its 0.9 would otherwise rank first); kept 0.2(+) 0.5(-) 0.5(+):
#     tie at 0.5 -> P 1/2 at R 1/2, then P 2/3 at R 1 -> 7/12
# A2: no positive -> NaN;  A4: all ignored -> NaN
# A3: ranked 0.4(-) 0.3(+) ... -> P 1/2 at R 1 -> 1/2
EXPECTED_AP = [5 / 6, 7 / 12, float("nan"), 1 / 2, float("nan")]
FREQ = ["head", "medium", "tail", "tail", "head"]


def test_per_attribute_ap():
    np.testing.assert_allclose(per_attribute_ap(np.array(LABELS), np.array(SCORES)), EXPECTED_AP)


def _release_gt(make_gt, labels=LABELS, freq=FREQ):
    # The release layout: "attrs", and att_vec under extra_info.ovad_result.
    annotations = [{"id": 100 + i, "image_id": 1 + i % 2, "bbox": [0, 0, 10 + i, 10],
                    "extra_info": {"ovad_result": {"att_vec": row}}}
                   for i, row in enumerate(labels)]
    attrs = [{"id": a, "name": f"type{a}:word{a}", "freq_set": f} for a, f in enumerate(freq)]
    return make_gt(annotations, attrs=attrs)


def test_evaluate_ovad_hand_computed(make_gt, make_results):
    # all = mean(5/6, 7/12, 1/2) = 23/36; head = 5/6 (A4 NaN left out); medium = 7/12; tail = 1/2
    results = make_results([{"id": 100 + i, "attr": row} for i, row in enumerate(SCORES)][::-1])
    metrics = evaluate_ovad(_release_gt(make_gt), results)
    assert metrics == pytest.approx({"ap/all": 100 * 23 / 36, "ap/head": 100 * 5 / 6,
                                     "ap/medium": 100 * 7 / 12, "ap/tail": 50.0}, abs=1e-9)


def test_group_without_any_positive_is_nan(make_gt, make_results):
    labels = [[1, 0], [0, 0]]
    gt = _release_gt(make_gt, labels=labels, freq=["head", "medium"])
    results = make_results([{"id": 100, "attr": [0.9, 0.1]}, {"id": 101, "attr": [0.2, 0.3]}])
    metrics = evaluate_ovad(gt, results)
    assert metrics["ap/all"] == 100.0 and metrics["ap/head"] == 100.0
    assert math.isnan(metrics["ap/medium"]) and math.isnan(metrics["ap/tail"])


def test_attr_length_must_match_attributes(make_gt, make_results):
    results = make_results([{"id": 100 + i, "attr": row} for i, row in enumerate(SCORES)])
    bad = make_results([{"id": 100, "attr": [0.1, 0.2]}])[0]
    results[0] = bad
    with pytest.raises(ResultFormatError,
                       match=r"record 0 \(id 100\): 'attr' has 2 scores, .* 5 attributes"):
        evaluate_ovad(_release_gt(make_gt), results)


def test_missing_and_extra_ids(make_gt, make_results):
    results = make_results([{"id": 100 + i, "attr": row} for i, row in enumerate(SCORES)][:3]
                           + [{"id": 7, "attr": SCORES[3]}])
    with pytest.raises(ResultFormatError, match=r"GT annotation id\(s\) have no result: \[103\]"):
        evaluate_ovad(_release_gt(make_gt), results)


def test_needs_attributes(make_gt, make_results):
    gt = make_gt([{"id": 1, "image_id": 1, "bbox": [0, 0, 5, 5]}])
    with pytest.raises(ValueError, match="no 'attributes'"):
        evaluate_ovad(gt, make_results([{"id": 1, "attr": [0.5]}]))
