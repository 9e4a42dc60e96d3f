"""OVAD box-given attribute detection (method.md section 6): per-attribute AP, group means, x100.

For each attribute, the GT boxes labelled 1 or 0 for it (label -1 = ignored) are ranked by the
predicted score and scored with scikit-learn-style average precision; an attribute without a
positive box has no AP (NaN) and is left out of every mean. ``ap/all`` averages all attributes,
``ap/head`` / ``ap/medium`` / ``ap/tail`` those of each ``freq_set``.

Shape letters: N GT boxes, A attributes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np

from lavis_dynrefer.data.annotations import FREQ_SETS, RegionAnnotationFile
from lavis_dynrefer.evaluation.average_precision import average_precision
from lavis_dynrefer.evaluation.results import (
    PredictedRegion,
    align_to_annotations,
    require_fields,
)

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("id", "attr")
IGNORE = -1


def per_attribute_ap(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AP of every attribute over its non-ignored boxes.

    Args:
        labels: [N, A] 1 positive, 0 negative, -1 ignored.
        scores: [N, A] predicted scores.

    Returns:
        [A] AP in [0, 1], NaN for an attribute with no positive label.
    """
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 2:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must both be [N, A]")
    aps = np.full(labels.shape[1], np.nan)
    for a in range(labels.shape[1]):
        kept = labels[:, a] != IGNORE
        aps[a] = average_precision(labels[kept, a] == 1, scores[kept, a])
    return aps


def _nanmean(values: np.ndarray) -> float:
    with warnings.catch_warnings():  # an all-NaN group is NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(values)) if values.size else float("nan")


def evaluate_ovad(gt: RegionAnnotationFile, results: Sequence[PredictedRegion]
                  ) -> dict[str, float]:
    """OVAD mAP over all attributes and per frequency group.

    Args:
        gt: annotations with ``att_vec`` [A] and the file's A ``attributes``.
        results: one result per GT annotation (by ``id``) with ``attr`` [A] in attribute order.

    Returns:
        {"ap/all", "ap/head", "ap/medium", "ap/tail"}, x100; NaN for a group without any
        attribute that has a positive box.
    """
    if not gt.attributes:
        raise ValueError(f"{gt.source}: no 'attributes' (or 'attrs'), so no OVAD evaluation")
    if not gt.annotations:
        raise ValueError(f"{gt.source}: no annotations to evaluate")
    require_fields(results, REQUIRED_FIELDS)
    matched = align_to_annotations(gt, results)
    num_attributes = len(gt.attributes)
    for ann in gt.annotations:
        if ann.att_vec is None:
            raise ValueError(f"{gt.source}: annotation id {ann.id} has no 'att_vec'")
    for region in matched:
        if len(region.attr) != num_attributes:
            region.fail(f"'attr' has {len(region.attr)} scores, the GT file has "
                        f"{num_attributes} attributes")
    labels = np.array([ann.att_vec for ann in gt.annotations], dtype=np.int64)
    scores = np.array([region.attr for region in matched], dtype=np.float64)
    aps = per_attribute_ap(labels, scores)
    logger.info("ovad: %d boxes, %d of %d attributes have a positive box",
                len(labels), int(np.isfinite(aps).sum()), num_attributes)
    freq = np.array([attribute.freq_set for attribute in gt.attributes])
    metrics = {"ap/all": _nanmean(aps)}
    for group in FREQ_SETS:
        metrics[f"ap/{group}"] = _nanmean(aps[freq == group])
    return {key: 100.0 * value for key, value in metrics.items()}
