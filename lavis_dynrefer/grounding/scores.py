"""Score every candidate region against every text, and pick the matching regions.

DynRefer's region-text decoder is trained with SigLIP's sigmoid loss, so sigmoid(s * e^t + b)
is a probability per (region, text) pair, not a softmax over regions: an expression can match no
region, one, or several. Shape letters: R candidate regions, T texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def matches(scores: Sequence[float], threshold: float, relative: float = 0.0) -> list[int]:
    """Indices of the scores >= ``threshold`` and >= ``relative`` x the best score, by
    descending score (ties: lower index first).

    >>> matches([0.2, 0.9, 0.6, 0.9], 0.5)
    [1, 3, 2]
    >>> matches([0.2, 0.9, 0.6, 0.9], 0.5, relative=0.7)
    [1, 3]
    >>> matches([0.2, 0.1], 0.5)
    []
    """
    floor = max(threshold, relative * max(scores, default=0.0))
    kept = [i for i, s in enumerate(scores) if s >= floor]
    return sorted(kept, key=lambda i: (-scores[i], i))


@torch.no_grad()
def region_text_scores(model: Any, images: torch.Tensor, boxes: torch.Tensor,
                       texts: Sequence[str]) -> torch.Tensor:
    """[R, T] matching probabilities, regions encoded in chunks of ``config.region_chunk``.

    Args:
        model: a ``DynReferModel``.
        images: [R, V, 3, S, S] and ``boxes`` [R, V, 4], the eval processor's outputs.
        texts: T expressions.
    """
    if not texts:
        return torch.zeros(images.shape[0], 0)
    text_embeds = model.embed_texts(list(texts))
    chunk = model.config.region_chunk
    parts = [model.contrastive.probabilities(
                 model.encode_regions(images[i:i + chunk], boxes[i:i + chunk]), text_embeds)
             for i in range(0, images.shape[0], chunk)]
    if not parts:
        return torch.zeros(0, len(texts))
    return torch.cat(parts).float().cpu()


def ground(model: Any, samples: dict[str, Any], texts: Sequence[str],
           threshold: float | None = None) -> list[dict[str, Any]]:
    """One dict per text, in order: ``scores`` (R floats in [0, 1], the probability that region
    r matches the text) and ``matches`` (the regions scoring >= the threshold and >=
    ``config.grounding_relative`` x the text's best score, by descending score; empty when
    none does).

    Args:
        model: a ``DynReferModel``.
        samples: what ``predict_answers`` takes: ``image`` [R, V, 3, S, S] and
            ``region_boxes`` [R, V, 4] of the R candidate regions of one image.
        texts: the expressions.
        threshold: default ``model.config.grounding_threshold`` (chosen on a validation split).
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of expressions, not one string")
    threshold = model.config.grounding_threshold if threshold is None else threshold
    scores = region_text_scores(model, samples["image"], samples["region_boxes"], texts)
    out = []
    for t in range(len(texts)):
        column = scores[:, t].tolist()
        out.append({"scores": column,
                    "matches": matches(column, threshold, model.config.grounding_relative)})
    return out
