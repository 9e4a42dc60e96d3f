"""Selective-search proposals find drawn objects; recall is counted as by hand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lavis_dynrefer.evaluation.densecap_matching import box_iou
from lavis_dynrefer.grounding.proposals import ProposalConfig, proposal_recall, propose_boxes


def test_drawn_objects_are_proposed():
    image = Image.new("RGB", (120, 90), (235, 235, 235))
    pen = ImageDraw.Draw(image)
    objects = np.array([[10, 10, 40, 50], [60, 20, 110, 40], [30, 60, 70, 85]], np.float32)
    for box, colour in zip(objects, [(200, 30, 30), (30, 160, 30), (30, 30, 200)]):
        pen.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=colour)
    boxes = propose_boxes(image, ProposalConfig(scales=(50.0, 200.0)))
    assert boxes.dtype == np.float32 and boxes.shape[1] == 4
    best = box_iou(objects, boxes).max(axis=1)
    assert (best > 0.95).all(), best
    # The whole picture is one of the merged regions.
    assert (box_iou(np.array([[0, 0, 120, 90]]), boxes) > 0.99).any()
    assert len(boxes) == len({tuple(b) for b in boxes.tolist()})  # no duplicates


def test_max_boxes_and_min_side():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8))
    boxes = propose_boxes(image, ProposalConfig(scales=(20.0,), max_boxes=7, min_side=5))
    assert len(boxes) <= 7
    assert ((boxes[:, 2] - boxes[:, 0]) >= 5).all() and ((boxes[:, 3] - boxes[:, 1]) >= 5).all()


def test_recall_by_hand():
    proposals = [np.array([[0, 0, 10, 10]]), np.zeros((0, 4))]
    targets = [np.array([[0, 0, 10, 12], [5, 0, 15, 10]]), np.array([[0, 0, 4, 4]])]
    # Image 1: IoU 0.83 (found), 0.33 (not found); image 2: no proposals. 1 of 3.
    assert proposal_recall(proposals, targets) == pytest.approx(100 / 3)
