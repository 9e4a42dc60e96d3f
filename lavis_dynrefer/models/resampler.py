"""The resampler: BLIP-2's Q-Former, 32 learned queries cross-attending to the fused tokens.

Shape letters: R regions, L fused tokens (1 + S*S), C ViT width, Q queries, D Q-Former width.
"""

from __future__ import annotations

import torch
from lavis.models.blip2_models.Qformer import BertModel
from torch import nn

from lavis_dynrefer.models.bert_config import bert_config
from lavis_dynrefer.models.config import ResamplerConfig


class QFormerResampler(nn.Module):
    """[R, L, C] -> [R, Q, D].

    Built like ``Blip2Base.init_Qformer`` from a literal config; the text-side modules BLIP-2
    removes (word/position embeddings, per-layer ``intermediate``/``output`` for text tokens)
    are removed here too, so the parameter set equals the BLIP-2 / DynRefer checkpoints'.
    The query tokens are frozen, as in the release (they keep the BLIP-2 values).

    Args:
        config: Q-Former sizes.
        encoder_width: C, width of the tokens cross-attended to.
        train_queries: train the query tokens (models trained from scratch).
    """

    def __init__(self, config: ResamplerConfig, encoder_width: int, train_queries: bool = False):
        super().__init__()
        self.config = config
        bert = bert_config(config.width, config.layers, config.heads, config.intermediate,
                           encoder_width, config.cross_attention_freq, config.num_queries)
        self.qformer = BertModel(bert, add_pooling_layer=False)
        self.qformer.embeddings.word_embeddings = None
        self.qformer.embeddings.position_embeddings = None
        for layer in self.qformer.encoder.layer:
            layer.intermediate = None
            layer.output = None
        self.query_tokens = nn.Parameter(torch.zeros(1, config.num_queries, config.width))
        nn.init.normal_(self.query_tokens, std=bert.initializer_range)
        self.query_tokens.requires_grad_(train_queries)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Resample fused region tokens [R, L, C] into query tokens [R, Q, D]."""
        queries = self.query_tokens.expand(tokens.shape[0], -1, -1)
        mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
        out = self.qformer(query_embeds=queries, encoder_hidden_states=tokens,
                           encoder_attention_mask=mask, return_dict=True)
        return out.last_hidden_state
