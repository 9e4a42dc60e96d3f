"""A word-level tokenizer with T5's special-token layout, built locally (no download).

Small models (``tiny``, and the project's own ``shapes`` model) use it in place of Flan-T5's
sentencepiece tokenizer: lower-cased words and punctuation, ids 0/1/2 = <pad>/</s>/<unk> as in T5
(so T5's ``decoder_start_token_id = pad = 0`` holds), and </s> appended to every sequence.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
CONTROL_TOKENS = (",", "|")


def build_word_tokenizer(words: Iterable[str]) -> PreTrainedTokenizerFast:
    """Tokenizer over the special tokens, the control-word separators and ``words``.

    Args:
        words: vocabulary words (duplicates and the special tokens are skipped).
    """
    vocab: dict[str, int] = {}
    for token in (*SPECIAL_TOKENS, *CONTROL_TOKENS, *words):
        token = token.strip()
        if token and token not in vocab:
            vocab[token] = len(vocab)
    core = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    core.add_special_tokens(list(SPECIAL_TOKENS))  # so decode(skip_special_tokens=True) drops them
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    core.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")


def load_word_tokenizer(vocab_file: str | os.PathLike) -> PreTrainedTokenizerFast:
    """Word tokenizer from a one-word-per-line file.

    Raises:
        FileNotFoundError: naming the file.
        ValueError: the file has no words.
    """
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(f"tokenizer vocabulary not found: {vocab_file}")
    with open(vocab_file, encoding="utf-8") as handle:
        words = [line.strip() for line in handle if line.strip()]
    if not words:
        raise ValueError(f"tokenizer vocabulary {vocab_file} is empty")
    return build_word_tokenizer(words)
