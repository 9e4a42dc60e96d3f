"""Region-text contrastive decoder: cross-attention scoring + SigLIP sigmoid loss.

Shape letters: R regions, Q region tokens, D Q-Former width, N texts, E text embedding width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lavis_dynrefer.models.config import HeadConfig
from lavis_dynrefer.models.cross_rank import gather_with_grad
from lavis_dynrefer.models.losses import region_text_sigmoid_loss
from lavis_dynrefer.models.query_decoder import QueryDecoder


class ContrastiveDecoder(nn.Module):
    """s(region, text) = Linear(L2-normalised decoded text query); logits = s * exp(t) + b.

    Args:
        config: head sizes.
        region_width: D.
        text_width: E.
        logit_bias: initial b' (release -10).
    """

    def __init__(self, config: HeadConfig, region_width: int, text_width: int,
                 logit_bias: float = -10.0):
        super().__init__()
        self.decoder = QueryDecoder(config, region_width, text_width, normalize=True)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))  # release attr_t
        self.logit_bias = nn.Parameter(torch.tensor(float(logit_bias)))  # release attr_b

    def forward(self, region_tokens: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """Raw similarities s [R, N] (class logits use these directly)."""
        return self.decoder(region_tokens, text_embeds)

    def logits(self, region_tokens: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """s * exp(t) + b [R, N], the SigLIP logits the loss is calibrated for."""
        sims = self.decoder(region_tokens, text_embeds)
        return sims * self.logit_scale.exp() + self.logit_bias

    def probabilities(self, region_tokens: torch.Tensor, text_embeds: torch.Tensor
                      ) -> torch.Tensor:
        """sigmoid(s * exp(t) + b) [R, N], the SigLIP matching probability (attribute scores
        are sigmoid(s), as in the release, unless ``attribute_score: siglip``)."""
        return torch.sigmoid(self.logits(region_tokens, text_embeds))

    def loss(self, region_tokens: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """SigLIP loss of R matching (region i, text i) pairs, batch gathered over ranks.

        Args:
            region_tokens: [R, Q, D] this rank's regions.
            text_embeds: [R, E] their captions' embeddings.
        """
        regions = gather_with_grad(region_tokens)
        texts = gather_with_grad(text_embeds)
        sims_t2i = self.decoder(region_tokens, texts.tensor)  # [R_local, T_all]
        if len(regions.sizes) == 1:
            sims_i2t = sims_t2i.t()
        else:
            sims_i2t = self.decoder(regions.tensor, text_embeds).t()  # [T_local, R_all]
        # B_all / world (R on one process): the rank-mean of this loss and of its gradient is
        # the one-process loss on the whole batch, also when the last batches differ in size.
        return region_text_sigmoid_loss(sims_i2t, sims_t2i, self.logit_scale, self.logit_bias,
                                        offset=regions.offset, normalizer=regions.mean_size)
