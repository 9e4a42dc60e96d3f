"""Grounding metrics on small cases computed by hand, the file checks, and the command."""

from __future__ import annotations

import json
import math

import pytest

from lavis_dynrefer.evaluation import __main__ as cli
from lavis_dynrefer.evaluation.grounding import evaluate_grounding
from lavis_dynrefer.grounding.formats import (
    GroundingFormatError,
    grounded_record,
    parse_grounded,
    parse_grounding,
)

A, B, C = [0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]
A_SHIFTED = [0, 0, 10, 12]        # IoU with A = 100 / 120 = 0.83: a hit
A_HALF = [5, 0, 15, 10]           # IoU with A = 50 / 150 = 0.33: a miss

GT = {"images": [{"id": 1, "file_name": "x.png", "width": 64, "height": 64}],
      "expressions": [
          {"id": 1, "image_id": 1, "text": "the left one", "targets": [A], "kind": "referring"},
          {"id": 2, "image_id": 1, "text": "the middle one", "targets": [B], "kind": "referring"},
          {"id": 3, "image_id": 1, "text": "the two squares", "targets": [A, B], "kind": "count"},
          {"id": 4, "image_id": 1, "text": "a purple star", "targets": [], "kind": "none"},
          {"id": 5, "image_id": 1, "text": "a green star", "targets": [], "kind": "none"},
      ]}
RESULTS = [
    # 1: top-1 hits A; matched {A'}: 1 TP of 1.
    {"expression_id": 1, "boxes": [A_SHIFTED, B, C], "scores": [0.9, 0.3, 0.1], "matches": 1},
    # 2: top-1 misses (A), B second; matched {A, B}: 1 TP (B), 1 FP.
    {"expression_id": 2, "boxes": [A, B, C], "scores": [0.8, 0.7, 0.1], "matches": 2},
    # 3: top-1 C misses, A_HALF misses, A third; matched {C}: 0 TP, 1 FP.
    {"expression_id": 3, "boxes": [C, A_HALF, A], "scores": [0.6, 0.5, 0.4], "matches": 1},
    # 4: nothing matched: right. 5: one box matched: wrong (1 FP).
    {"expression_id": 4, "boxes": [A, B], "scores": [0.2, 0.1], "matches": 0},
    {"expression_id": 5, "boxes": [C], "scores": [0.6], "matches": 1},
]


def test_metrics_by_hand():
    m = evaluate_grounding(parse_grounding(GT), parse_grounded(RESULTS))
    # REC over expressions 1-3 (with targets): hits 1 of 3.
    assert m["rec_accuracy"] == pytest.approx(100 / 3)
    assert m["rec_accuracy/referring"] == pytest.approx(50.0)
    assert m["rec_accuracy/count"] == 0.0
    # Recall@k: @1 {1} = 1/3; @5 and @10: 1 (A'), 2 (B at rank 2), 3 (A at rank 3) = 3/3.
    assert m["recall@1"] == pytest.approx(100 / 3)
    assert m["recall@5"] == m["recall@10"] == 100.0
    # Sets: TP 1 + 1 + 0 = 2; matched 1 + 2 + 1 + 0 + 1 = 5; targets 1 + 1 + 2 = 4.
    assert m["precision"] == pytest.approx(40.0)
    assert m["recall"] == pytest.approx(50.0)
    assert m["f1"] == pytest.approx(2 * 40 * 50 / 90)
    assert m["no_target"] == 2 and m["no_target_accuracy"] == pytest.approx(50.0)
    assert m["multi_target"] == 1 and m["multi_target_recall"] == 0.0
    assert m["expressions"] == 5


def test_missing_record_is_no_answer_and_unknown_ids_are_refused():
    m = evaluate_grounding(parse_grounding(GT), parse_grounded(RESULTS[:1]))
    assert m["rec_accuracy"] == pytest.approx(100 / 3)
    assert m["no_target_accuracy"] == 100.0  # no record: nothing matched
    with pytest.raises(ValueError, match="expression ids not in the annotation file"):
        evaluate_grounding(parse_grounding(GT), parse_grounded(
            [{"expression_id": 99, "boxes": [], "scores": [], "matches": 0}]))


def test_one_box_matches_one_target_only():
    gt = parse_grounding({"expressions": [
        {"id": 1, "image_id": 1, "text": "the square", "targets": [A]}]})
    # Two boxes both on A: one TP, one FP.
    m = evaluate_grounding(gt, parse_grounded([{"expression_id": 1, "boxes": [A, A_SHIFTED],
                                                "scores": [0.9, 0.8], "matches": 2}]))
    assert (m["precision"], m["recall"]) == (50.0, 100.0)
    assert math.isnan(m["no_target_accuracy"])


@pytest.mark.parametrize("record, message", [
    ({"expression_id": 1, "boxes": [A], "scores": []}, "same length"),
    ({"expression_id": 1, "boxes": [A, B], "scores": [0.1, 0.9]}, "descending score"),
    ({"expression_id": 1, "boxes": [A], "scores": [0.1], "matches": 2}, r"in \[0, 1\]"),
    ({"expression_id": 1, "boxes": [[10, 0, 0, 10]], "scores": [0.1]}, "reversed box"),
    ({"boxes": []}, "integer 'expression_id'"),
])
def test_bad_result_records_are_named(record, message):
    with pytest.raises(GroundingFormatError, match=message):
        parse_grounded([record], "r.json")


@pytest.mark.parametrize("expression, message", [
    ({"id": 1, "image_id": 1, "text": "x"}, "'targets' must be a list"),
    ({"id": 1, "image_id": 2, "text": "x", "targets": []}, "image_id 2 is not in 'images'"),
    ({"id": 1, "image_id": 1, "text": " ", "targets": []}, "'text' must be a non-empty"),
    ({"id": 1, "image_id": 1, "text": "x", "targets": [[0, 0, 1]]}, "target 0: expected a box"),
])
def test_bad_expressions_are_named(expression, message):
    data = {"images": GT["images"], "expressions": [expression]}
    with pytest.raises(GroundingFormatError, match=message):
        parse_grounding(data, "gt.json")


def test_record_from_ground_output():
    record = grounded_record(7, [A, B, C], [0.2, 0.9, 0.6], matched=[1, 2])
    assert record == {"expression_id": 7, "boxes": [[20.0, 0.0, 30.0, 10.0],
                                                    [40.0, 0.0, 50.0, 10.0],
                                                    [0.0, 0.0, 10.0, 10.0]],
                      "scores": [0.9, 0.6, 0.2], "matches": 2}


def test_command(tmp_path, capsys):
    (tmp_path / "gt.json").write_text(json.dumps(GT))
    (tmp_path / "r.json").write_text(json.dumps(RESULTS))
    assert cli.main(["grounding", "--gt", str(tmp_path / "gt.json"),
                     "--results", str(tmp_path / "r.json")]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["precision"] == pytest.approx(40.0) and line["multi_target_recall"] == 0.0
    (tmp_path / "bad.json").write_text("[{}]")
    assert cli.main(["grounding", "--gt", str(tmp_path / "gt.json"),
                     "--results", str(tmp_path / "bad.json")]) == 2
