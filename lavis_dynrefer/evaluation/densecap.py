"""Dense captioning mAP (DenseCap protocol, method.md section 6).

Per image, GT boxes are merged and predictions matched (``densecap_matching``). All images are then
pooled and ranked by score; a prediction is a true positive at (t, m) iff its match counts, its
IoU >= t and the METEOR of its caption against the merged box's references is > m. AP is DenseCap's
100-point interpolated AP with npos = the number of merged GT boxes over all GT images (images
without predictions included); predictions on images without GT are false positives.
``map`` is the mean AP over t in {0.3, ..., 0.7} x m in {0, 0.05, ..., 0.25}; ``detmap`` the mean
over t with METEOR ignored (m = -1).

Ranking is deterministic: images in GT-file order (then images known only to the results, in
order of appearance), ties in score keep that order and the result-file order within an image.
Only predictions whose match counts at IoU >= 0.3 can ever be true positives, so only those are
sent to the caption scorer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from lavis_dynrefer.data.annotations import RegionAnnotationFile
from lavis_dynrefer.evaluation.average_precision import interpolated_average_precision
from lavis_dynrefer.evaluation.caption_scorers import CaptionPairScorer, meteor_pair_scores
from lavis_dynrefer.evaluation.densecap_matching import match_predictions, merge_ground_truth
from lavis_dynrefer.evaluation.results import PredictedRegion, require_fields

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("image_id", "bbox", "caption", "score")
IOU_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
METEOR_THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
IGNORE_METEOR = -1.0


def _group_by_image(gt: RegionAnnotationFile, results: Sequence[PredictedRegion]
                    ) -> dict[int, list[PredictedRegion]]:
    """Image id -> its predictions, GT images first (in file order), every GT image a key.

    Each image's predictions are ordered by (score descending, box, caption), so predictions
    with equal scores meet the greedy matching in the same order whatever order the result file
    lists them in (several processes, or an image split over several eval samples, reorder it).
    """
    by_image: dict[int, list[PredictedRegion]] = {image.id: [] for image in gt.images}
    for region in results:
        by_image.setdefault(region.image_id, []).append(region)
    for preds in by_image.values():
        preds.sort(key=lambda p: (-p.score, tuple(p.bbox), p.caption))
    return by_image


def pooled_matches(gt: RegionAnnotationFile, results: Sequence[PredictedRegion],
                   caption_scorer: CaptionPairScorer) -> tuple[int, dict[str, np.ndarray]]:
    """Match every image, score the captions of counting matches, pool all predictions.

    Returns:
        npos (number of merged GT boxes) and the pooled predictions, ranked by score:
        {"score", "iou", "ok", "meteor"} each [N] (meteor is NaN where it was not needed).
    """
    npos, rows, pairs, pair_rows = 0, [], [], []
    for image_id, preds in _group_by_image(gt, results).items():
        anns = gt.annotations_by_image.get(image_id, [])
        merged = merge_ground_truth(np.array([a.bbox for a in anns]).reshape(-1, 4),
                                    [a.caption for a in anns])
        npos += len(merged.references)
        if not preds:
            continue
        matches = match_predictions(np.array([p.score for p in preds]),
                                    np.array([p.bbox for p in preds]), merged.boxes)
        for rank, index in enumerate(matches.order):
            ok = bool(matches.ok[rank])
            if ok and matches.iou[rank] >= min(IOU_THRESHOLDS):
                pair_rows.append(len(rows))
                pairs.append((preds[index].caption, merged.references[matches.group[rank]]))
            rows.append((preds[index].score, matches.iou[rank], ok))
    if npos == 0:
        raise ValueError(f"{gt.source}: no GT boxes, so dense-captioning AP is undefined")
    logger.info("densecap: %d predictions, %d merged GT boxes, %d captions to score",
                len(rows), npos, len(pairs))
    meteor = np.full(len(rows), np.nan)
    scored = np.asarray(caption_scorer(pairs), dtype=np.float64) if pairs else np.zeros(0)
    if scored.shape != (len(pairs),):
        raise ValueError(f"caption scorer returned {scored.shape} scores for {len(pairs)} pairs")
    meteor[np.asarray(pair_rows, dtype=np.intp)] = scored
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    ranked = np.argsort(-table[:, 0], kind="stable")
    pooled = {"score": table[ranked, 0], "iou": table[ranked, 1],
              "ok": table[ranked, 2].astype(bool), "meteor": meteor[ranked]}
    return npos, pooled


def average_precisions(npos: int, pooled: dict[str, np.ndarray]
                       ) -> dict[tuple[float, float], float]:
    """AP in [0, 1] for every (IoU threshold t, METEOR threshold m); m = -1 ignores METEOR."""
    aps = {}
    for t in IOU_THRESHOLDS:
        located = pooled["ok"] & (pooled["iou"] >= t)
        aps[(t, IGNORE_METEOR)] = interpolated_average_precision(located, npos)
        for m in METEOR_THRESHOLDS:
            # NaN METEOR (never scored) compares False, and only occurs where located is False.
            tp = located & (pooled["meteor"] > m)
            aps[(t, m)] = interpolated_average_precision(tp, npos)
    return aps


def evaluate_densecap(gt: RegionAnnotationFile, results: Sequence[PredictedRegion],
                      caption_scorer: CaptionPairScorer | None = None) -> dict[str, float]:
    """DenseCap mAP and detection mAP.

    Args:
        gt: GT boxes with captions, grouped by image.
        results: predicted regions (image_id, bbox, caption, score); ``id`` is not used.
        caption_scorer: similarity of (candidate, references) pairs in [0, 1], all at once;
            default METEOR 1.5 with one JVM. Tests inject a pure-Python one.

    Returns:
        {"map", "detmap"}, x100.
    """
    require_fields(results, REQUIRED_FIELDS)
    npos, pooled = pooled_matches(gt, results, caption_scorer or meteor_pair_scores)
    aps = average_precisions(npos, pooled)
    for (t, m), ap in aps.items():
        logger.debug("densecap AP(iou>=%.1f, meteor>%g) = %.4f", t, m, ap)
    caption_aps = [ap for (_, m), ap in aps.items() if m != IGNORE_METEOR]
    detection_aps = [ap for (_, m), ap in aps.items() if m == IGNORE_METEOR]
    return {"map": 100.0 * float(np.mean(caption_aps)),
            "detmap": 100.0 * float(np.mean(detection_aps))}
