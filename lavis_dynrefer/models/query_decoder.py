"""Text-query decoders: one query per text attends to a region's tokens, then Linear -> 1.

Shared by the tagging decoder (queries = tag embeddings, logit per tag) and the region-text
contrastive decoder (queries = captions / attribute templates / class prompts, similarity per
pair). The block stack has cross-attention and FFN only, no self-attention, so every text is
scored independently of the others.

Shape letters: R regions, Q region tokens, D Q-Former width, N texts, E text embedding width,
H head width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lavis.models.blip2_models.Qformer import BertAttention, BertIntermediate, BertOutput
from torch import nn

from lavis_dynrefer.models.bert_config import bert_config
from lavis_dynrefer.models.config import HeadConfig


class CrossAttentionLayer(nn.Module):
    """BERT layer without self-attention: cross-attention + FFN, post-norm residuals."""

    def __init__(self, config):
        super().__init__()
        self.crossattention = BertAttention(config, is_cross_attention=True)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        attended = self.crossattention(hidden, encoder_hidden_states=memory)[0]
        return self.output(self.intermediate(attended), attended)


class CrossAttentionStack(nn.Module):
    """``encoder.layer.{i}`` of cross-attention layers (release: ``tag_head``, ``attr_head``)."""

    def __init__(self, config: HeadConfig):
        super().__init__()
        bert = bert_config(config.width, config.layers, config.heads, config.intermediate,
                           encoder_width=config.width)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(CrossAttentionLayer(bert) for _ in range(config.layers))

    def forward(self, hidden: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        for layer in self.encoder.layer:
            hidden = layer(hidden, memory)
        return hidden


class QueryDecoder(nn.Module):
    """Scores N texts against each of R regions.

    Args:
        config: head sizes (H, layers, heads, FFN).
        region_width: D.
        text_width: E.
        normalize: L2-normalise the decoded query before the final Linear (the contrastive
            decoder does; the tagging decoder does not).
    """

    def __init__(self, config: HeadConfig, region_width: int, text_width: int, normalize: bool):
        super().__init__()
        self.head = CrossAttentionStack(config)
        self.vision_proj = nn.Linear(region_width, config.width)
        self.text_proj = nn.Linear(text_width, config.width)
        self.fc = nn.Linear(config.width, 1)
        self.normalize = normalize

    def forward(self, region_tokens: torch.Tensor, text_embeds: torch.Tensor,
                chunk: int = 1024) -> torch.Tensor:
        """Score every (region, text) pair.

        Args:
            region_tokens: [R, Q, D].
            text_embeds: [N, E] (frozen text-tower embeddings).
            chunk: texts per chunk, bounding memory at R * chunk * H.

        Returns:
            [R, N] scores.
        """
        memory = self.vision_proj(region_tokens)  # [R, Q, H]
        queries = self.text_proj(text_embeds)  # [N, H]
        scores = []
        for start in range(0, max(queries.shape[0], 1), chunk):
            part = queries[start:start + chunk]
            hidden = part[None].expand(memory.shape[0], -1, -1)  # [R, n, H]
            hidden = self.head(hidden, memory)
            if self.normalize:
                hidden = F.normalize(hidden, dim=-1)
            scores.append(self.fc(hidden).squeeze(-1))
        return torch.cat(scores, dim=1)
