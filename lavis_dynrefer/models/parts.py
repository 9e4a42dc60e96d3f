"""The parts of a DynReferModel from its config: stages, tokenizers, tag list; no weights.

The only files read are the small ones the config names (tag list, word-tokenizer vocabulary,
a local Hugging Face tokenizer directory); nothing is downloaded. ``meta=True`` builds every
parameter on the meta device (full size, no memory) for measuring.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

from lavis_dynrefer.data.tag_list import load_tag_list
from lavis_dynrefer.models.align import AlignConfig, ViewAlign
from lavis_dynrefer.models.config import DynReferConfig, LanguageConfig
from lavis_dynrefer.models.contrastive import ContrastiveDecoder
from lavis_dynrefer.models.fusion import ViewFusion
from lavis_dynrefer.models.language import LanguageDecoder
from lavis_dynrefer.models.meta_init import meta_parameters
from lavis_dynrefer.models.query_decoder import QueryDecoder
from lavis_dynrefer.models.region_pool import RegionPool
from lavis_dynrefer.models.resampler import QFormerResampler
from lavis_dynrefer.models.text_tokenizer import ClipTextTokenizer
from lavis_dynrefer.models.text_tower import TextTower
from lavis_dynrefer.models.vision import VisionEncoder
from lavis_dynrefer.models.word_tokenizer import load_word_tokenizer
from lavis_dynrefer.paths import resolve_path


def build_language_tokenizer(config: LanguageConfig):
    """The T5-side tokenizer: the built-in word tokenizer or a local HF T5 tokenizer dir."""
    if config.tokenizer == "word":
        if not config.vocab_file:
            raise ValueError("language.tokenizer 'word' needs language.vocab_file")
        return load_word_tokenizer(resolve_path(config.vocab_file))
    from transformers import T5TokenizerFast

    if not Path(config.tokenizer).is_dir():
        raise FileNotFoundError(
            f"language.tokenizer {config.tokenizer!r} is not a local directory: point it at a "
            "downloaded Flan-T5 folder (nothing is fetched from the hub)"
        )
    return T5TokenizerFast.from_pretrained(config.tokenizer, local_files_only=True)


def build_parts(config: DynReferConfig, meta: bool = False, with_tokenizers: bool = True
                ) -> tuple[DynReferConfig, dict[str, Any]]:
    """The config as the model keeps it (a Flan-T5 folder stands in for a missing tokenizer
    folder) and the keyword arguments of ``DynReferModel``: every stage randomly initialised,
    ``config.frozen`` parts locked.

    Args:
        config: the model configuration.
        meta: put every parameter on the meta device (full-size measuring without memory).
        with_tokenizers: build the tokenizers (needs the language tokenizer's files); without
            them the model can be measured but not run on text.
    """
    if config.weights.flan_t5 and not Path(config.language.tokenizer).is_dir():
        # The Flan-T5 folder holds its tokenizer too.
        config = dataclasses.replace(config, language=dataclasses.replace(
            config.language, tokenizer=config.weights.flan_t5))
    tags = load_tag_list(resolve_path(config.tag_list)) if config.tag_list else []
    language_tokenizer = build_language_tokenizer(config.language) if with_tokenizers else None
    language_config = config.language
    if language_tokenizer is not None and config.language.tokenizer == "word":
        # A word vocabulary defines the model's vocabulary size.
        language_config = dataclasses.replace(config.language, vocab_size=len(language_tokenizer))
    text_tokenizer = (ClipTextTokenizer(config.text.context_length) if with_tokenizers
                      else None)
    width = config.vision.width
    region_width = config.resampler.width
    context = meta_parameters() if meta else contextlib.nullcontext()
    with context:
        vision = VisionEncoder(config.vision)
        text_tower = TextTower(config.text)
        language = LanguageDecoder(language_config, region_width, language_tokenizer)
        for part, tower in (("vision", vision), ("text", text_tower), ("language", language.t5)):
            if part in config.frozen:
                tower.lock()
        parts = dict(
            vision=vision,
            region_pool=RegionPool(config.region.roi_size, config.vision.patch_size,
                                   config.region.roi_sampling_ratio),
            align=ViewAlign(AlignConfig(width, groups=config.region.align_groups,
                                        backend=config.region.align_backend,
                                        init=config.region.align_init)),
            fusion=ViewFusion(width, config.region.num_views),
            resampler=QFormerResampler(config.resampler, width,
                                       train_queries="queries" not in config.frozen),
            tagging=QueryDecoder(config.heads, region_width, config.text.embed_dim,
                                 normalize=False),
            contrastive=ContrastiveDecoder(config.heads, region_width, config.text.embed_dim,
                                           logit_bias=config.rtc_logit_bias_init),
            language=language,
            text_tower=text_tower,
            text_tokenizer=text_tokenizer,
            tags=tags,
        )
    return config, parts
