"""Which extra views each region gets (method.md section 1).

Shape letters: R regions, N candidate coefficients (sorted ascending), K = V - 1 extra views.

- Training: K candidates drawn uniformly without replacement, independently per region.
- Evaluation: greedy novelty. score_n = Hamming(h_0, h_n) / t_n, where h_0 hashes the t = 0 view;
  the K best in descending score; ties go to the smaller t. Scores are float64 quotients, as in
  the release, so ratios that are equal on paper may not tie (21 / 0.7 = 30.000000000000004 beats
  3 / 0.1 = 30.0); keeping the release's arithmetic keeps its chosen views.

The release picks with repeated ``argmax`` in float64 and zeroes each pick, which also prefers the
smaller t on exact ties; it can pick the same candidate twice when fewer than K candidates score
above zero. Here a candidate is never picked twice (such regions look the same at every t, so the
views are near-identical either way).
"""

from __future__ import annotations

import numpy as np
import torch

from lavis_dynrefer.processors.phash import hamming


def random_views(num_regions: int, num_candidates: int, k: int,
                 generator: torch.Generator | None = None) -> np.ndarray:
    """Draw K of N candidates per region, without replacement.

    Args:
        num_regions: R.
        num_candidates: N.
        k: K <= N.
        generator: a seeded ``torch.Generator`` for reproducibility; ``None`` uses torch's global
            RNG (seeded per DataLoader worker by PyTorch and per rank by LAVIS).

    Returns:
        [R, K] int64 candidate indices, in the order drawn.
    """
    if not 0 <= k <= num_candidates:
        raise ValueError(f"cannot draw {k} views from {num_candidates} candidates")
    keys = torch.rand((num_regions, num_candidates), generator=generator)
    return keys.argsort(dim=1)[:, :k].numpy().astype(np.int64)


def novelty_scores(base_hashes: np.ndarray, candidate_hashes: np.ndarray, ts: np.ndarray
                   ) -> np.ndarray:
    """score = Hamming(h_0, h_n) / t_n.

    Args:
        base_hashes: [R, 64] hashes of the t = 0 views.
        candidate_hashes: [R, N, 64] hashes of the candidate views.
        ts: [N] coefficients, all > 0.

    Returns:
        [R, N] float64 scores.
    """
    distances = np.stack([hamming(h0, hc) for h0, hc in zip(base_hashes, candidate_hashes)]) \
        if len(base_hashes) else np.zeros((0, len(ts)), np.int64)
    return distances.astype(np.float64) / np.asarray(ts, np.float64)[None, :]


def top_views(scores: np.ndarray, k: int) -> np.ndarray:
    """The K best candidates per region by descending score, ties to the lower index.

    Args:
        scores: [R, N] scores, candidates ordered by ascending t.
        k: K <= N.

    Returns:
        [R, K] int64 candidate indices, best first.
    """
    if not 0 <= k <= scores.shape[1]:
        raise ValueError(f"cannot choose {k} views from {scores.shape[1]} candidates")
    # A stable sort of the negated scores keeps equal scores in ascending-t order.
    return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)
