"""DenseCap mAP end to end on hand-computed cases (pure-Python caption scorer; one real METEOR)."""

from __future__ import annotations

import pytest

from lavis_dynrefer.evaluation.densecap import evaluate_densecap
from lavis_dynrefer.evaluation.results import ResultFormatError


class TableScorer:
    """Caption similarity looked up by candidate; records every call."""

    def __init__(self, table: dict[str, float]):
        self.table, self.calls = table, []

    def __call__(self, pairs):
        self.calls.append(list(pairs))
        return [self.table[candidate] for candidate, _ in pairs]


GT_ANNOTATIONS = [
    # image 1: g1 and g2 overlap by IoU 100/110 >= .7 -> one merged box (0, 0, 10, 10.5) with
    # both captions; g3 stays alone.
    {"id": 1, "image_id": 1, "bbox": [0, 0, 10, 10], "caption": "red car"},
    {"id": 2, "image_id": 1, "bbox": [0, 0, 10, 11], "caption": "a red car"},
    {"id": 3, "image_id": 1, "bbox": [50, 50, 70, 70], "caption": "dog"},
    # image 2: GT but no prediction (its box still counts in npos)
    {"id": 4, "image_id": 2, "bbox": [0, 0, 20, 20], "caption": "tree"},
]
# image 3 has no GT at all.
PREDICTIONS = [
    # IoU with merged (0, 0, 10, 10.5) = 100/105; METEOR .3 -> TP at every (t, m)
    {"image_id": 1, "bbox": [0, 0, 10, 10], "caption": "high", "score": 0.9},
    # image without GT, tied score: ranked after the first (GT image order) -> FP
    {"image_id": 3, "bbox": [0, 0, 10, 10], "caption": "none", "score": 0.9},
    # IoU with g3 = 400/800 = .5 exactly; METEOR .12 -> TP iff t <= .5 and m < .12
    {"image_id": 1, "bbox": [50, 50, 70, 90], "caption": "mid", "score": 0.8},
    # its best GT (the merged box) is already used -> FP
    {"image_id": 1, "bbox": [0, 0, 10, 10], "caption": "high", "score": 0.7},
]
SIMILARITY = {"high": 0.3, "mid": 0.12}


def test_densecap_hand_computed(make_gt, make_results):
    # npos = 2 (image 1, merged) + 1 (image 2) = 3. Pooled ranking: high, none, mid, dup.
    # TP pattern T F T F (t <= .5 and m in {0, .05, .1}, or m = -1): recall 1/3 1/3 2/3 2/3,
    #   precision 1 1/2 2/3 1/2 -> levels 0..0.33 (34) give 1, 0.34..0.66 (33) give 2/3,
    #   0.67..0.99 give 0 -> AP = (34 + 33 * 2/3) / 100 = 0.56
    # TP pattern T F F F (every other (t, m)): levels 0..0.33 give 1 -> AP = 0.34
    # map = (9 * 0.56 + 21 * 0.34) / 30 = 0.406; detmap = (3 * 0.56 + 2 * 0.34) / 5 = 0.472
    scorer = TableScorer(SIMILARITY)
    metrics = evaluate_densecap(make_gt(GT_ANNOTATIONS, images=[1, 2, 3]),
                                make_results(PREDICTIONS), caption_scorer=scorer)
    assert metrics == pytest.approx({"map": 40.6, "detmap": 47.2}, abs=1e-9)
    # One call for the whole evaluation, only for matches that can count (not the duplicate,
    # not the image without GT); a merged box's references are all its members' captions.
    assert scorer.calls == [[("high", ["red car", "a red car"]), ("mid", ["dog"])]]


def test_densecap_score_ties_follow_gt_image_order(make_gt, make_results):
    # Image 3 listed first: the tied FP now ranks before the TP: pattern F T T F (loose (t, m)),
    # recall 0 1/3 2/3 2/3, precision 0 1/2 2/3 1/2 -> levels 0..0.66 (67) give 2/3 -> AP = .44667
    # strict (t, m): F T F F -> levels 0..0.33 (34) give 1/2 -> AP = 0.17
    # map = (9 * 0.67 * 2/3 + 21 * 0.17) / 30; detmap = (3 * 0.67 * 2/3 + 2 * 0.17) / 5
    metrics = evaluate_densecap(make_gt(GT_ANNOTATIONS, images=[3, 1, 2]),
                                make_results(PREDICTIONS), caption_scorer=TableScorer(SIMILARITY))
    loose, strict = 0.67 * 2 / 3, 0.17
    assert metrics == pytest.approx({"map": 100 * (9 * loose + 21 * strict) / 30,
                                     "detmap": 100 * (3 * loose + 2 * strict) / 5}, abs=1e-9)


def test_densecap_empty_predictions(make_gt, make_results):
    scorer = TableScorer({})
    metrics = evaluate_densecap(make_gt(GT_ANNOTATIONS), make_results([]), caption_scorer=scorer)
    assert metrics == {"map": 0.0, "detmap": 0.0}
    assert scorer.calls == []  # nothing to score: the JVM would not even start


def test_densecap_only_images_without_gt(make_gt, make_results):
    # Every prediction lies on image 3 (no GT): all false positives.
    preds = [dict(p, image_id=3) for p in PREDICTIONS]
    metrics = evaluate_densecap(make_gt(GT_ANNOTATIONS, images=[1, 2, 3]), make_results(preds),
                                caption_scorer=TableScorer({}))
    assert metrics == {"map": 0.0, "detmap": 0.0}


def test_densecap_needs_gt_boxes(make_gt, make_results):
    gt = make_gt([], images=[1])
    with pytest.raises(ValueError, match="no GT boxes"):
        evaluate_densecap(gt, make_results(PREDICTIONS[:1]), caption_scorer=TableScorer({}))


def test_densecap_names_a_result_without_score(make_gt, make_results):
    preds = [dict(PREDICTIONS[0]), {k: v for k, v in PREDICTIONS[2].items() if k != "score"}]
    with pytest.raises(ResultFormatError, match=r"res.json: record 1: missing 'score'"):
        evaluate_densecap(make_gt(GT_ANNOTATIONS), make_results(preds),
                          caption_scorer=TableScorer(SIMILARITY))


@pytest.mark.slow
def test_densecap_with_real_meteor(make_gt, make_results, java):
    # Two GT boxes, two exact boxes. METEOR 1.5 of an identical caption is 1 (one chunk, no
    # fragmentation penalty); of a caption sharing no word with its reference, 0.
    # m >= 0: ranked T F, npos 2 -> recall .5 .5 -> levels 0..0.5 (51) give 1 -> AP .51 -> map 51
    # m = -1: T T -> AP 1 -> detmap 100
    gt = make_gt([{"id": 1, "image_id": 1, "bbox": [0, 0, 40, 40], "caption": "a red car"},
                  {"id": 2, "image_id": 1, "bbox": [50, 50, 90, 90], "caption": "a black dog"}])
    preds = make_results([
        {"image_id": 1, "bbox": [0, 0, 40, 40], "caption": "a red car", "score": 0.9},
        {"image_id": 1, "bbox": [50, 50, 90, 90], "caption": "zzzz qqqq", "score": 0.8},
    ])
    assert evaluate_densecap(gt, preds) == pytest.approx({"map": 51.0, "detmap": 100.0},
                                                         abs=1e-9)


def test_tied_scores_do_not_depend_on_the_result_order(make_gt, make_results):
    # Two predictions with the same score on one GT box: whichever the greedy matching meets
    # first takes the box. Several ranks or an image split over eval samples reorder the result
    # file; ties are taken in (box, caption) order, so the metrics stay the same.
    gt = make_gt([{"id": 1, "image_id": 1, "bbox": [0, 0, 50, 50], "caption": "red"}])
    first = {"image_id": 1, "bbox": [0, 0, 50, 50], "caption": "blue", "score": 0.5}
    second = {"image_id": 1, "bbox": [0, 0, 48, 50], "caption": "red", "score": 0.5}
    metrics, calls = [], []
    for records in ([first, second], [second, first]):
        scorer = TableScorer({"red": 0.3, "blue": 0.0})
        metrics.append(evaluate_densecap(gt, make_results(records), caption_scorer=scorer))
        calls.append(scorer.calls)
    assert metrics[0] == metrics[1]
    # The smaller box comes first among the tied and takes the GT box.
    assert calls[0] == calls[1] == [[("red", ["red"])]]
