"""The OpenAI CLIP BPE tokenizer for the text tower, offline, from the vocabulary LAVIS ships.

Shape letters: N texts, T context length.

LAVIS 1.0.2 ships the BPE merges (``lavis/models/clip_models/bpe_simple_vocab_16e6.txt.gz``)
and OpenAI's ``SimpleTokenizer``; their special tokens are spelled ``<start_of_text>`` /
``<end_of_text>`` but get the same ids as OpenAI's ``<|startoftext|>`` / ``<|endoftext|>``
(49406 / 49407, the last two of the 49408 entries).

Overflow: LAVIS's ``tokenize`` keeps the first T tokens, which drops the EOT, so the tower's
argmax pooling would then read the largest word-piece id instead. The release tokenizes with
OpenAI CLIP's ``tokenize(truncate=True)`` (callsys/DynRefer ``dynrefer/models/eva_clip/clip.py``),
which keeps the first T tokens and overwrites the last with EOT; that is what this wrapper does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch


@functools.lru_cache(maxsize=4)
def _bpe(bpe_path: str | None) -> Any:
    # Imported here: LAVIS's module builds its own tokenizer from the vocabulary file on import.
    from lavis.models.clip_models.tokenizer import SimpleTokenizer, default_bpe

    return SimpleTokenizer(bpe_path or default_bpe())


class ClipTextTokenizer:
    """Texts -> [N, T] CLIP token ids: SOT, BPE pieces, EOT, zero padding.

    The vocabulary file is read on the first call (and shared between instances), not here.

    Args:
        context_length: T (77 for CLIP).
        bpe_path: BPE merges file; ``None`` uses the one inside LAVIS.
    """

    def __init__(self, context_length: int = 77, bpe_path: str | None = None):
        if context_length < 2:
            raise ValueError(f"context_length must leave room for SOT and EOT, got "
                             f"{context_length}")
        self.context_length = context_length
        self.bpe_path = bpe_path

    @property
    def sot_id(self) -> int:
        return _bpe(self.bpe_path).encoder["<start_of_text>"]

    @property
    def eot_id(self) -> int:
        return _bpe(self.bpe_path).encoder["<end_of_text>"]

    @property
    def vocab_size(self) -> int:
        return _bpe(self.bpe_path).vocab_size

    def encode(self, text: str) -> list[int]:
        """BPE ids of one text, without SOT/EOT (lower-cased and whitespace-collapsed by CLIP)."""
        return _bpe(self.bpe_path).encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of BPE ids, special tokens and padding (0 after EOT) removed."""
        keep = []
        for token in ids:
            token = int(token)
            if token == self.eot_id:
                break
            if token != self.sot_id:
                keep.append(token)
        return _bpe(self.bpe_path).decode(keep).strip()

    def __call__(self, texts: Sequence[str] | str) -> torch.Tensor:
        """Tokenize.

        Args:
            texts: N strings (a single string counts as N = 1).

        Returns:
            [N, T] int64: SOT, the text's pieces, EOT, then zeros. A text longer than T - 2
            pieces keeps its first T - 1 tokens and ends with EOT at position T - 1.
        """
        if isinstance(texts, str):
            texts = [texts]
        sot, eot, length = self.sot_id, self.eot_id, self.context_length
        result = torch.zeros(len(texts), length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [sot, *self.encode(text)][: length - 1] + [eot]
            result[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return result

    def __repr__(self) -> str:
        return (f"ClipTextTokenizer(context_length={self.context_length}, "
                f"bpe_path={self.bpe_path!r})")
