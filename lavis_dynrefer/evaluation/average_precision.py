"""The two average-precision flavours the benchmarks use, as pure numpy functions.

- ``average_precision``: scikit-learn's ``average_precision_score`` (step-wise, no interpolation,
  tied scores form one threshold), used by OVAD per attribute.
- ``interpolated_average_precision``: DenseCap's 100-point interpolated AP over a ranked list of
  true/false positives (precision at recall r = max precision at any recall >= r).

Shape letters: N ranked items.
"""

from __future__ import annotations

import numpy as np


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Step-wise AP = sum_k (R_k - R_{k-1}) P_k over the distinct score thresholds, high to low.

    Args:
        labels: [N] 1 positive, 0 negative (ignored items must already be removed).
        scores: [N] higher = more likely positive; equal scores share one threshold.

    Returns:
        AP in [0, 1]; NaN when there is no positive (AP is undefined).
    """
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    if not labels.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    # The last item of each run of equal scores closes that threshold.
    last_of_threshold = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(labels)[last_of_threshold]
    precision = tps / (last_of_threshold + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def interpolated_average_precision(is_tp: np.ndarray, npos: int, num_points: int = 100) -> float:
    """DenseCap's interpolated AP: mean over r in {0, 1/P, ..., (P-1)/P} of max{prec : rec >= r}.

    Args:
        is_tp: [N] bool, the ranked detections (highest score first), True for a true positive.
        npos: number of ground-truth positives (recall denominator), > 0.
        num_points: P recall points; DenseCap uses 100 (0, 0.01, ..., 0.99).

    Returns:
        AP in [0, 1]; 0 when there are no detections. A recall level that is never reached
        contributes precision 0.
    """
    if npos <= 0:
        raise ValueError(f"npos must be positive, got {npos}")
    is_tp = np.asarray(is_tp, dtype=bool).ravel()
    if is_tp.size == 0:
        return 0.0
    tp = np.cumsum(is_tp)
    recall = tp / npos
    precision = tp / np.arange(1, is_tp.size + 1)
    # best_from[i] = max precision over ranks >= i; recall is non-decreasing in rank, so
    # "recall >= r" is "rank >= first rank reaching r".
    best_from = np.r_[np.maximum.accumulate(precision[::-1])[::-1], 0.0]
    levels = np.arange(num_points) / num_points  # exact k / P, compared with exact tp / npos
    first = np.searchsorted(recall, levels, side="left")
    return float(np.mean(best_from[first]))
