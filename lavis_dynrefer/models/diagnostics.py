"""Is the resampler reading its regions? Attention entropy and the spread of region tokens.

A Q-Former trained from scratch first averages its input (uniform cross-attention) and gives
almost the same tokens for every region; every head downstream then learns its prior. The loss
does not show this, these two numbers do:

- ``normalized entropy`` of the resampler's cross-attention: the mean over regions, layers,
  heads and queries of H(attention) / log(L); 1 is uniform over the L fused tokens.
- ``mean pairwise cosine`` of the resampler's outputs of different regions (flattened [Q*D]);
  near 1 when every region gives the same tokens.

``watch_resampler`` records both while the model runs (e.g. inside ``predict_answers``).

Shape letters: R regions, H heads, Q queries, L fused tokens, D width.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator

import torch
from torch import nn


@dataclasses.dataclass
class ResamplerStats:
    """Running sums of what ``watch_resampler`` saw."""

    entropy_sum: float = 0.0
    entropy_count: int = 0
    outputs: list[torch.Tensor] = dataclasses.field(default_factory=list)

    def attention_entropy(self) -> float:
        """Mean normalised entropy of the cross-attention maps (NaN if none was seen)."""
        return self.entropy_sum / self.entropy_count if self.entropy_count else float("nan")

    def token_cosine(self) -> float:
        """Mean pairwise cosine between the resampler outputs of different regions."""
        if not self.outputs:
            return float("nan")
        return mean_pairwise_cosine(torch.cat(self.outputs))


def normalized_entropy(attention: torch.Tensor) -> torch.Tensor:
    """H(p) / log(L) of each attention row of [..., L] (1 = uniform); [...]."""
    length = attention.shape[-1]
    entropy = -(attention * attention.clamp(min=1e-12).log()).sum(dim=-1)
    return entropy / math.log(length) if length > 1 else torch.zeros_like(entropy)


def mean_pairwise_cosine(tokens: torch.Tensor) -> float:
    """Mean cosine over pairs i != j of the rows of [R, ...] (flattened); NaN for R < 2."""
    rows = torch.nn.functional.normalize(tokens.flatten(1).double(), dim=1)
    count = rows.shape[0]
    if count < 2:
        return float("nan")
    similarity = rows @ rows.T
    return float((similarity.sum() - similarity.diagonal().sum()) / (count * (count - 1)))


def _cross_attention_probs(module: nn.Module, hidden: torch.Tensor, memory: torch.Tensor
                           ) -> torch.Tensor:
    """[R, H, Q, L] softmax(q k^T / sqrt(d)) of a BERT self-attention module used as
    cross-attention with no mask (the resampler attends to every fused token)."""
    query = module.transpose_for_scores(module.query(hidden))
    key = module.transpose_for_scores(module.key(memory))
    scores = query @ key.transpose(-1, -2) / math.sqrt(module.attention_head_size)
    return scores.softmax(dim=-1)


@contextlib.contextmanager
def watch_resampler(resampler: nn.Module) -> Iterator[ResamplerStats]:
    """Record the cross-attention entropy and the outputs of a ``QFormerResampler`` while the
    block runs; yields the ``ResamplerStats`` being filled."""
    stats = ResamplerStats()

    def on_cross_attention(module: nn.Module, args: tuple, _output: object) -> None:
        hidden, memory = args[0], args[3] if len(args) > 3 else None
        if memory is None:
            return
        with torch.no_grad():
            entropy = normalized_entropy(_cross_attention_probs(module, hidden, memory))
        stats.entropy_sum += float(entropy.sum())
        stats.entropy_count += entropy.numel()

    def on_output(_module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
        stats.outputs.append(output.detach().float().cpu())

    handles = [layer.crossattention.self.register_forward_hook(on_cross_attention)
               for layer in resampler.qformer.encoder.layer if layer.has_cross_attention]
    handles.append(resampler.register_forward_hook(on_output))
    try:
        yield stats
    finally:
        for handle in handles:
            handle.remove()
