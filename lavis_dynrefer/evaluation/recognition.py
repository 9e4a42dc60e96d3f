"""Region recognition with GT boxes (method.md section 6): top-1 accuracy and COCO bbox AP, x100.

Every GT box is classified by the argmax of its result's ``cls`` logits (ties go to the first
class; logits are in the GT file's category order). For the AP, each GT box becomes one
detection: the GT box itself, the argmax class, that logit as score, evaluated by pycocotools'
``COCOeval`` (bbox, AP@[.5:.95], all areas, maxDets 100 per image).

Shape letters: N GT boxes, C categories.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from lavis_dynrefer.data.annotations import RegionAnnotationFile
from lavis_dynrefer.evaluation.quiet import stdout_to_log
from lavis_dynrefer.evaluation.results import (
    PredictedRegion,
    align_to_annotations,
    require_fields,
)

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("id", "cls")


def xyxy_to_xywh(box: Sequence[float]) -> list[float]:
    """[x1, y1, x2, y2] -> [x, y, w, h] (what pycocotools reads)."""
    x1, y1, x2, y2 = box
    return [x1, y1, x2 - x1, y2 - y1]


def coco_bbox_ap(gt: RegionAnnotationFile, category_ids: Sequence[int],
                 scores: Sequence[float]) -> float:
    """COCO bbox AP@[.5:.95] of one detection per GT box (the box itself, a class, a score).

    Args:
        gt: the GT file; its annotations need ``category_id``.
        category_ids: [N] predicted category id of each GT annotation, in annotation order.
        scores: [N] confidence of each prediction.

    Returns:
        AP in [0, 1] (pycocotools ``stats[0]``).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    # pycocotools reads a GT annotation id of 0 as "unmatched", so GT ids are renumbered from 1.
    gt_dataset = {
        "images": [{"id": im.id, "file_name": im.file_name, "width": im.width,
                    "height": im.height} for im in gt.images],
        "annotations": [{"id": k + 1, "image_id": ann.image_id, "bbox": xyxy_to_xywh(ann.bbox),
                         "area": (ann.bbox[2] - ann.bbox[0]) * (ann.bbox[3] - ann.bbox[1]),
                         "iscrowd": 0, "category_id": ann.category_id}
                        for k, ann in enumerate(gt.annotations)],
        "categories": [{"id": c.id, "name": c.name} for c in gt.categories],
    }
    detections = [{"image_id": ann.image_id, "bbox": xyxy_to_xywh(ann.bbox),
                   "category_id": int(category_id), "score": float(score)}
                  for ann, category_id, score in zip(gt.annotations, category_ids, scores)]
    with stdout_to_log("pycocotools"):
        coco_gt = COCO()
        coco_gt.dataset = gt_dataset
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(detections), iouType="bbox")
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return float(coco_eval.stats[0])


def evaluate_recognition(gt: RegionAnnotationFile, results: Sequence[PredictedRegion]
                         ) -> dict[str, float]:
    """Top-1 accuracy and COCO bbox mAP of classifying every GT box.

    Args:
        gt: annotations with ``category_id`` and the file's C ``categories``.
        results: one result per GT annotation (by ``id``) with ``cls`` [C] logits.

    Returns:
        {"accuracy", "mAP"}, x100.
    """
    if not gt.categories:
        raise ValueError(f"{gt.source}: no 'categories', so no region recognition evaluation")
    if not gt.annotations:
        raise ValueError(f"{gt.source}: no annotations to evaluate")
    require_fields(results, REQUIRED_FIELDS)
    matched = align_to_annotations(gt, results)
    for ann in gt.annotations:
        if ann.category_id is None:
            raise ValueError(f"{gt.source}: annotation id {ann.id} has no category")
    num_classes = len(gt.categories)
    for region in matched:
        if len(region.cls) != num_classes:
            region.fail(f"'cls' has {len(region.cls)} logits, the GT file has "
                        f"{num_classes} categories")
    logits = np.array([region.cls for region in matched], dtype=np.float64)  # [N, C]
    best = logits.argmax(axis=1)
    category_ids = np.array([c.id for c in gt.categories])[best]
    truth = np.array([ann.category_id for ann in gt.annotations])
    accuracy = float(np.mean(category_ids == truth))
    box_ap = coco_bbox_ap(gt, category_ids.tolist(), logits[np.arange(len(best)), best].tolist())
    logger.info("recognition: %d boxes, top-1 %.4f, bbox AP %.4f", len(truth), accuracy, box_ap)
    return {"accuracy": 100.0 * accuracy, "mAP": 100.0 * box_ap}
