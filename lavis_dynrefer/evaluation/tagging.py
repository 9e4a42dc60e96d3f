"""Tag mAP: does the tagging decoder rank each region's own tags first?

Shape letters: N regions, K tags.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lavis_dynrefer.evaluation.ovad import per_attribute_ap


def tag_map(gt_tags: Sequence[Sequence[str]], tag_names: Sequence[str],
            probabilities: np.ndarray) -> dict[str, float]:
    """Mean over tags of the AP of ranking the regions by that tag's probability.

    Args:
        gt_tags: per region its true tags (names outside ``tag_names`` are not scored).
        tag_names: the K tags, in the column order of ``probabilities``.
        probabilities: [N, K] predicted tag probabilities.

    Returns:
        ``{"mAP": ..., "tags": T}``: mAP x 100 over the T tags with at least one positive
        region (NaN when none has).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(gt_tags), len(tag_names)):
        raise ValueError(f"probabilities {probabilities.shape} do not match {len(gt_tags)} "
                         f"regions x {len(tag_names)} tags")
    column = {tag: k for k, tag in enumerate(tag_names)}
    labels = np.zeros(probabilities.shape, dtype=np.int64)
    for n, tags in enumerate(gt_tags):
        for tag in tags:
            if tag in column:
                labels[n, column[tag]] = 1
    aps = per_attribute_ap(labels, probabilities)
    scored = aps[~np.isnan(aps)]
    return {"mAP": 100.0 * float(scored.mean()) if scored.size else float("nan"),
            "tags": int(scored.size)}
