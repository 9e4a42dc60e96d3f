"""Losses of the tagging and region-text contrastive decoders, as pure functions.

Shape letters: R regions, K tags, T texts; "_local" = this rank's batch, "_all" = gathered over
all ranks.

- ``asymmetric_loss``: ASL (Ridnik et al., ICCV 2021) exactly as RAM's ``AsymmetricLoss``
  (xinyu1205/recognize-anything ``ram/models/utils.py``), which DynRefer's release instantiates
  with gamma_neg 7, gamma_pos 0, clip 0.05 and sums over regions and tags.
- ``sigmoid_contrastive_loss`` / ``region_text_sigmoid_loss``: SigLIP's sigmoid loss as the
  release's ``att_forward`` computes it (method.md section 3).
- ``pairwise_labels``: its labels for this rank's rows of the cross-rank batch
  (the batch itself: ``cross_rank.gather_with_grad``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def asymmetric_loss(logits: torch.Tensor, targets: torch.Tensor, gamma_neg: float = 7.0,
                    gamma_pos: float = 0.0, clip: float = 0.05, eps: float = 1e-8,
                    ignore: torch.Tensor | None = None, detach_focal_weight: bool = True
                    ) -> torch.Tensor:
    """Asymmetric loss for multi-label tagging, summed over regions and tags.

    With p = sigmoid(logit), per entry:
    positive: ``-(1 - p)**gamma_pos * log(max(p, eps))``;
    negative: ``-p_m**gamma_neg * log(max(1 - p_m, eps))`` with the shifted probability
    ``p_m = max(p - clip, 0)`` (so easy negatives with p <= clip cost nothing).

    Args:
        logits: [R, K] tag logits.
        targets: [R, K] in {0, 1}.
        gamma_neg, gamma_pos: focusing exponents of negatives / positives.
        clip: probability margin of negatives (0 disables the shift).
        eps: lower clamp inside the logs.
        ignore: optional [R, K] bool, True where an entry must not count.
        detach_focal_weight: treat the focusing weight as a constant in backward, as RAM does
            (``disable_torch_grad_focal_loss=True``).

    Returns:
        Scalar (float32): the sum over all non-ignored entries; 0 when none is left or R = 0.
    """
    if logits.shape != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ")
    x = logits.float()
    y = targets.to(x.dtype)
    p_pos = torch.sigmoid(x)
    p_neg = 1 - p_pos
    if clip > 0:
        p_neg = (p_neg + clip).clamp(max=1)
    loss = y * torch.log(p_pos.clamp(min=eps)) + (1 - y) * torch.log(p_neg.clamp(min=eps))
    if gamma_neg > 0 or gamma_pos > 0:
        p_true = p_pos * y + p_neg * (1 - y)
        weight = torch.pow(1 - p_true, gamma_pos * y + gamma_neg * (1 - y))
        loss = loss * (weight.detach() if detach_focal_weight else weight)
    if ignore is not None:
        loss = loss.masked_fill(ignore.to(torch.bool), 0.0)
    return -loss.sum()


def sigmoid_contrastive_loss(sims: torch.Tensor, t: torch.Tensor, b: torch.Tensor,
                             labels: torch.Tensor, normalizer: float | None = None
                             ) -> torch.Tensor:
    """One direction of the SigLIP loss.

    ``-sum(log_sigmoid(labels * (sims * exp(t) + b))) / normalizer``.

    Args:
        sims: [B, N] similarities.
        t: scalar log-temperature (release ``attr_t``, initialised log 10).
        b: scalar bias (release ``attr_b``, initialised -10).
        labels: [B, N], +1 for matching pairs, -1 otherwise.
        normalizer: divisor; default B, the number of rows.

    Returns:
        Scalar.
    """
    logits = sims * t.exp() + b
    denominator = sims.shape[0] if normalizer is None else normalizer
    return -F.logsigmoid(labels * logits).sum() / max(denominator, 1)


def pairwise_labels(num_local: int, num_all: int, offset: int = 0,
                    device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """SigLIP labels of this rank's rows against the gathered columns.

    Args:
        num_local: rows (this rank's items).
        num_all: columns (all ranks' items).
        offset: index of this rank's first item among the columns (``Gathered.offset``).

    Returns:
        [num_local, num_all]: -1 everywhere except +1 at (i, offset + i), the diagonal of this
        rank's block.
    """
    if offset + num_local > num_all:
        raise ValueError(f"rows {num_local} at offset {offset} exceed {num_all} columns")
    labels = torch.full((num_local, num_all), -1.0, device=device, dtype=dtype)
    rows = torch.arange(num_local, device=device)
    labels[rows, rows + offset] = 1.0
    return labels


def region_text_sigmoid_loss(sims_i2t: torch.Tensor, sims_t2i: torch.Tensor, t: torch.Tensor,
                             b: torch.Tensor, offset: int = 0, normalizer: float | None = None
                             ) -> torch.Tensor:
    """SigLIP loss of the region-text decoder, L = (L_i2t + L_t2i) / 2.

    The decoder scores a (region, text) pair with a cross-attention head (the text queries the
    region tokens), so s(region, text) is not a dot product and is computed separately for the
    two blocks each rank owns of the global region x text matrix M[r, t] = s(r, t). Following
    the release's names (``att_forward``):

    - ``sims_i2t`` [T_local, R_all] = M[:, local texts]^T: this rank's texts against every
      gathered region;
    - ``sims_t2i`` [R_local, T_all] = M[local regions, :]: this rank's regions against every
      gathered text.

    Text i and region i of this rank are the matching pair (index ``offset + i`` among the
    gathered ones). On one process both blocks are the whole matrix (pass ``M.T`` and ``M``):
    both directions sum the same B*B terms and L equals either one.

    Args:
        sims_i2t: [T_local, R_all].
        sims_t2i: [R_local, T_all], R_local = T_local.
        t, b: scalar log-temperature and bias.
        offset: this rank's first index among the gathered items.
        normalizer: divisor of each direction; default R_local, the release's (it divides by
            the local batch size). Across ranks pass ``Gathered.mean_size`` (B_all / world):
            with the gradient-carrying gather of ``cross_rank`` the rank-average of the loss
            (what DDP optimises) and its gradient then equal one process's on the whole batch,
            also when the last batches differ in size; with equal batches the two divisors
            coincide.

    Returns:
        Scalar.
    """
    if sims_i2t.shape[0] != sims_t2i.shape[0]:
        raise ValueError(
            f"sims_i2t {tuple(sims_i2t.shape)} and sims_t2i {tuple(sims_t2i.shape)} need the "
            "same number of local rows"
        )
    kwargs = {"device": sims_i2t.device, "dtype": sims_i2t.dtype}
    labels_i2t = pairwise_labels(sims_i2t.shape[0], sims_i2t.shape[1], offset, **kwargs)
    labels_t2i = pairwise_labels(sims_t2i.shape[0], sims_t2i.shape[1], offset, **kwargs)
    loss_i2t = sigmoid_contrastive_loss(sims_i2t, t, b, labels_i2t, normalizer)
    loss_t2i = sigmoid_contrastive_loss(sims_t2i, t, b, labels_t2i, normalizer)
    return (loss_i2t + loss_t2i) / 2


def labelled_sigmoid_loss(sims: torch.Tensor, t: torch.Tensor, b: torch.Tensor,
                          targets: torch.Tensor) -> torch.Tensor:
    """SigLIP's sigmoid loss on given labels, summed: the region-text decoder's label term.

    ``-sum(log_sigmoid(targets * (sims * exp(t) + b)))`` over the entries whose target is not 0.

    Args:
        sims: [R, N] similarities of R regions and N prompts.
        t, b: scalar log-temperature and bias (shared with the caption term).
        targets: [R, N], +1 (the prompt holds), -1 (it does not) or 0 (unknown: ignored).

    Returns:
        Scalar (float32); 0 when every target is 0.
    """
    if sims.shape != targets.shape:
        raise ValueError(f"sims {tuple(sims.shape)} and targets {tuple(targets.shape)} differ")
    logits = sims.float() * t.exp() + b
    terms = F.logsigmoid(targets.to(logits.dtype) * logits)
    return -(terms * (targets != 0)).sum()
