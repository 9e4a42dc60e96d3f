"""Region recognition with GT boxes: top-1 accuracy and COCO bbox AP (hand-computed)."""

from __future__ import annotations

import pytest

from lavis_dynrefer.evaluation.recognition import evaluate_recognition, xyxy_to_xywh
from lavis_dynrefer.evaluation.results import ResultFormatError

CATEGORIES = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]


def _release_gt(make_gt):
    # Release layout: the category as a name under extra_info.coco_result, the box only as a
    # segmentation polygon. GT annotation id 0 on purpose: pycocotools treats id 0 as unmatched.
    def region(ann_id, x1, y1, x2, y2, name):
        return {"id": ann_id, "image_id": 1, "segmentation": [[x1, y1, x2, y1, x2, y2, x1, y2]],
                "extra_info": {"coco_result": {"category": name}}}

    return make_gt([region(0, 0, 0, 10, 10, "cat"), region(1, 20, 20, 40, 40, "dog"),
                    region(2, 50, 50, 90, 90, "dog")], categories=CATEGORIES)


def test_xyxy_to_xywh():
    assert xyxy_to_xywh([10, 20, 15, 50]) == [10, 20, 5, 30]


def test_recognition_hand_computed(make_gt, make_results):
    # argmax: box 0 -> cat (right, score 2.0); box 1 -> dog (right, 3.0); box 2 -> cat (wrong,
    # 1.5). accuracy = 2/3.
    # COCO AP (101 recall points, IoU 1 or 0 so every IoU threshold agrees):
    #   cat: GT {box 0}; detections box 0 (2.0, TP), box 2 (1.5, FP) -> recall 1 at precision 1
    #        -> AP 1
    #   dog: GT {box 1, box 2}; detection box 1 (3.0, TP) -> recall .5 at precision 1 -> 51/101
    #   mAP = (1 + 51/101) / 2 = 76/101
    results = make_results([{"id": 2, "cls": [1.5, 0.0]}, {"id": 0, "cls": [2.0, 1.0]},
                            {"id": 1, "cls": [0.5, 3.0]}])
    metrics = evaluate_recognition(_release_gt(make_gt), results)
    assert metrics == pytest.approx({"accuracy": 200 / 3, "mAP": 100 * 76 / 101}, abs=1e-9)


def test_argmax_tie_takes_the_first_class(make_gt, make_results):
    # One dog box with tied logits -> predicted cat: accuracy 0; dog AP 0 (no detection), cat has
    # no GT so pycocotools leaves it out -> mAP 0.
    gt = make_gt([{"id": 5, "image_id": 1, "bbox": [0, 0, 10, 10], "category_id": 2}],
                 categories=CATEGORIES)
    metrics = evaluate_recognition(gt, make_results([{"id": 5, "cls": [1.0, 1.0]}]))
    assert metrics == {"accuracy": 0.0, "mAP": 0.0}


def test_recognition_errors(make_gt, make_results):
    gt = _release_gt(make_gt)
    with pytest.raises(ResultFormatError, match=r"record 0 \(id 0\): 'cls' has 3 logits, .* 2 cat"):
        evaluate_recognition(gt, make_results([{"id": i, "cls": [0, 1, 2]} for i in range(3)]))
    with pytest.raises(ResultFormatError, match=r"record 1 \(id 1\): missing 'cls'"):
        evaluate_recognition(gt, make_results([{"id": 0, "cls": [0, 1]}, {"id": 1}]))
    unlabeled = make_gt([{"id": 5, "image_id": 1, "bbox": [0, 0, 10, 10]}],
                        categories=CATEGORIES)
    with pytest.raises(ValueError, match="annotation id 5 has no category"):
        evaluate_recognition(unlabeled, make_results([{"id": 5, "cls": [1.0, 0.0]}]))
