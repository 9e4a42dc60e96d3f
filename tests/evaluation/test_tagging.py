"""Tag mAP against hand-computed average precisions."""

import math

import numpy as np
import pytest

from lavis_dynrefer.evaluation.tagging import tag_map


def test_tag_map_by_hand():
    gt = [["red", "circle"], ["blue"], ["red", "unknown-tag"]]
    names = ["red", "blue", "green"]
    probs = np.array([[0.9, 0.2, 0.1],
                      [0.8, 0.7, 0.3],   # ranks above the second red region for "red"
                      [0.6, 0.1, 0.2]])
    # red: ranking 0 (pos), 1 (neg), 2 (pos) -> AP = (1/1 + 2/3) / 2; blue: AP 1; green: none.
    result = tag_map(gt, names, probs)
    assert result["tags"] == 2
    assert result["mAP"] == pytest.approx(100 * ((1 + 2 / 3) / 2 + 1) / 2)
    assert math.isnan(tag_map([[]], ["red"], np.array([[0.5]]))["mAP"])
    with pytest.raises(ValueError, match="do not match"):
        tag_map(gt, names, probs[:2])
