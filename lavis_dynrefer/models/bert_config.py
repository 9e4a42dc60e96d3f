"""Literal BERT configurations for the Q-Former and the decoder heads (no hub call).

BLIP-2 builds its Q-Former from ``BertConfig.from_pretrained("bert-base-uncased")``, a network
call; the values of that file are written out here instead.
"""

from __future__ import annotations

from transformers import BertConfig


def bert_config(width: int, layers: int, heads: int, intermediate: int, encoder_width: int,
                cross_attention_freq: int = 1, query_length: int = 0) -> BertConfig:
    """A bert-base-uncased-style config with cross-attention to ``encoder_width`` features.

    Args:
        width: hidden size D.
        layers: number of layers.
        heads: attention heads.
        intermediate: FFN width.
        encoder_width: width of the features cross-attended to.
        cross_attention_freq: a cross-attention every this many layers.
        query_length: number of learned queries (Q-Former), 0 otherwise.
    """
    config = BertConfig(
        vocab_size=30522,
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        position_embedding_type="absolute",
    )
    config.encoder_width = encoder_width
    config.add_cross_attention = True
    config.cross_attention_freq = cross_attention_freq
    config.query_length = query_length
    return config
