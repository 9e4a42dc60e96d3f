"""Tagging ASL and region-text SigLIP losses against hand-computed values."""

import math

import pytest
import torch

from lavis_dynrefer.models.cross_rank import gather_with_grad, mean_count_per_rank
from lavis_dynrefer.models.losses import (
    asymmetric_loss,
    pairwise_labels,
    region_text_sigmoid_loss,
    sigmoid_contrastive_loss,
)


def test_asl_one_region_two_tags_by_hand():
    # logits (0, 0), targets (1, 0), gamma_neg 7, gamma_pos 0, clip 0.05:
    # positive: p = 0.5, weight (1 - p)**0 = 1          -> -log(0.5)           = 0.693147
    # negative: p = 0.5, shifted p_m = 0.5 - 0.05 = 0.45,
    #           weight 0.45**7 = 0.0037367, -log(1 - 0.45) = 0.597837 -> 0.0037367 * 0.597837
    #                                                                  = 0.0022339
    # sum = 0.695381
    expected = math.log(2) + 0.45**7 * -math.log(0.55)
    assert expected == pytest.approx(0.695381, abs=1e-6)
    loss = asymmetric_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[1, 0]]))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_asl_easy_negative_below_clip_costs_nothing():
    # logit -4: p = 0.018 < clip 0.05 -> p_m = 0, weight 0**7 = 0, log(1) = 0.
    loss = asymmetric_loss(torch.tensor([[0.0, -4.0]]), torch.tensor([[1, 0]]))
    assert loss.item() == pytest.approx(math.log(2), rel=1e-6)


def test_asl_sums_over_regions_and_tags():
    logits, targets = torch.randn(3, 5), (torch.rand(3, 5) > 0.5).long()
    total = asymmetric_loss(logits, targets)
    per_region = sum(asymmetric_loss(logits[i:i + 1], targets[i:i + 1]) for i in range(3))
    torch.testing.assert_close(total, per_region)


def test_asl_finite_for_all_negative_extreme_and_ignored():
    logits = torch.tensor([[100.0, -100.0, 0.0], [-100.0, 100.0, 3.0]], requires_grad=True)
    for targets in (torch.zeros(2, 3), torch.ones(2, 3), torch.eye(2, 3)):
        loss = asymmetric_loss(logits, targets)
        loss.backward()
        assert torch.isfinite(loss) and loss >= 0
        assert torch.isfinite(logits.grad).all()
        logits.grad = None
    ignore_all = torch.ones(2, 3, dtype=torch.bool)
    assert asymmetric_loss(logits, torch.zeros(2, 3), ignore=ignore_all).item() == 0.0
    assert asymmetric_loss(torch.zeros(0, 3), torch.zeros(0, 3)).item() == 0.0


def test_asl_ignore_drops_entries_and_batch_size_one():
    logits, targets = torch.tensor([[0.0, 0.0]]), torch.tensor([[1, 0]])
    ignore = torch.tensor([[False, True]])
    assert asymmetric_loss(logits, targets, ignore=ignore).item() == pytest.approx(math.log(2))


def test_asl_focal_weight_is_constant_in_backward_by_default():
    logits = torch.tensor([[0.3]], requires_grad=True)
    asymmetric_loss(logits, torch.tensor([[0]])).backward()
    # d/dx of -w * log(1 - p_m) with w held constant: w * sigmoid'(x) / (1 - p_m)
    p = torch.sigmoid(torch.tensor(0.3)).item()
    p_m = p - 0.05
    expected = p_m**7 * p * (1 - p) / (1 - p_m)
    assert logits.grad.item() == pytest.approx(expected, rel=1e-5)


def test_siglip_two_by_two_by_hand():
    # sims [[2, 1], [0, 3]], t = log 2 (scale 2), b = -1 -> logits [[3, 1], [-1, 5]];
    # labels [[1, -1], [-1, 1]] -> label * logit = 3, -1, 1, 5; -log_sigmoid(z) = log(1 + e^-z):
    # -ls(3) = 0.048587, -ls(-1) = 1.313262, -ls(1) = 0.313262, -ls(5) = 0.006715
    # sum 1.681826, divided by B = 2 -> 0.840913.
    sims = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    t, b = torch.tensor(math.log(2)), torch.tensor(-1.0)
    expected = sum(math.log1p(math.exp(-z)) for z in (3, -1, 1, 5)) / 2
    assert expected == pytest.approx(0.840913, abs=1e-6)
    labels = pairwise_labels(2, 2)
    torch.testing.assert_close(labels, torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    assert sigmoid_contrastive_loss(sims, t, b, labels).item() == pytest.approx(expected, rel=1e-6)
    # One process: i2t is M^T, t2i is M; both directions sum the same terms.
    both = region_text_sigmoid_loss(sims.T, sims, t, b)
    assert both.item() == pytest.approx(expected, rel=1e-6)


def test_siglip_release_init_gives_a_finite_loss_and_gradients():
    t = torch.tensor(math.log(10.0), requires_grad=True)
    b = torch.tensor(-10.0, requires_grad=True)
    sims = torch.randn(4, 4, requires_grad=True)
    loss = region_text_sigmoid_loss(sims.T, sims, t, b)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0 for x in (t, b, sims))


def test_pairwise_labels_offset_block():
    labels = pairwise_labels(2, 5, offset=3)
    assert labels.sum().item() == 2 * 1 + 8 * -1
    assert labels[0, 3] == 1 and labels[1, 4] == 1
    with pytest.raises(ValueError):
        pairwise_labels(2, 4, offset=3)


def test_gather_without_process_group_is_identity():
    x = torch.randn(3, 2, requires_grad=True)
    gathered = gather_with_grad(x)
    assert gathered.tensor is x and gathered.offset == 0 and gathered.sizes == (3,)
    assert gathered.mean_size == 3
    assert mean_count_per_rank(7) == 7.0
