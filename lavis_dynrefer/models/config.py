"""Typed configuration of the DynRefer model: one frozen dataclass per stage.

Field defaults are the paper / release configuration (``flant5xl``, method.md sections 2-3); the
``tiny`` preset changes only numbers. LAVIS yaml ``model:`` sections map onto ``DynReferConfig``
through ``DynReferConfig.from_mapping`` (unknown keys fail with a suggestion). Every stage checks
its numbers in ``__post_init__`` against ``RANGES``; from yaml the error names the full key, e.g.
``model.region_chunk: must be >= 1, got 0``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from lavis_dynrefer.models.text_tower import TextTowerConfig
from lavis_dynrefer.typed_config import ConfigError, FieldError, from_mapping

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Range:
    """A valid range of a number, ``text`` as messages show it."""

    text: str
    contains: Callable[[float], bool]


FINITE = Range("finite", lambda v: True)  # check_ranges refuses NaN and inf for every range
AT_LEAST_1 = Range(">= 1", lambda v: v >= 1)
AT_LEAST_0 = Range(">= 0", lambda v: v >= 0)
POSITIVE = Range("> 0", lambda v: v > 0)
UNIT = Range("in [0, 1]", lambda v: 0 <= v <= 1)
UNIT_LEFT_CLOSED = Range("in [0, 1)", lambda v: 0 <= v < 1)
UNIT_OPEN = Range("in (0, 1)", lambda v: 0 < v < 1)


class OutOfRange(FieldError):
    """A config number outside its range; ``key`` is the field name within its stage."""

    def __init__(self, owner: str, key: str, rule: Range, value: Any):
        super().__init__(owner, key, f"must be {rule.text}, got {value!r}")
        self.rule, self.value = rule, value


def check_ranges(config: Any, ranges: Mapping[str, Range]) -> None:
    """Raise ``OutOfRange`` for the first field of ``config`` outside its range (NaN, inf too)."""
    for key, rule in ranges.items():
        value = getattr(config, key)
        if not (math.isfinite(value) and rule.contains(value)):
            raise OutOfRange(type(config).__name__, key, rule, value)


class RangeChecked:
    """Base of the config dataclasses with numbers: ``__post_init__`` checks ``RANGES``."""

    RANGES: ClassVar[Mapping[str, Range]] = {}

    def __post_init__(self) -> None:
        check_ranges(self, self.RANGES)


@dataclass(frozen=True)
class VisionConfig(RangeChecked):
    """EVA ViT as BLIP-2 uses it: 39 of EVA ViT-g/14's 40 blocks, no final norm."""

    image_size: int = 224
    patch_size: int = 14
    width: int = 1408
    depth: int = 39
    heads: int = 16
    mlp_ratio: float = 4.3637
    drop_path_rate: float = 0.0
    grad_checkpointing: bool = False
    # BLIP-2 keeps the frozen ViT's Linear/Conv weights in fp16 and runs it under autocast.
    precision: Literal["fp16", "fp32"] = "fp16"
    # Initial position embeddings of a ViT trained from scratch: ``eva`` (truncated normal, std
    # 0.02, as EVA's code; pretrained weights replace it) or ``sincos`` (fixed-frequency 2-D
    # sine-cosine at unit scale, as MAE initialises): EVA's init is ~50x smaller than the patch
    # embeddings, so a from-scratch ViT's patch tokens barely say where they are.
    position_init: Literal["eva", "sincos"] = "eva"

    RANGES: ClassVar[Mapping[str, Range]] = {
        "image_size": AT_LEAST_1,
        "patch_size": AT_LEAST_1,
        "width": AT_LEAST_1,
        "depth": AT_LEAST_1,
        "heads": AT_LEAST_1,
        "mlp_ratio": POSITIVE,
        "drop_path_rate": UNIT_LEFT_CLOSED,
    }


@dataclass(frozen=True)
class RegionConfig(RangeChecked):
    """Multi-view region embedding: RoI pooling, view alignment, fusion."""

    num_views: int = 3
    roi_size: int = 16
    roi_sampling_ratio: int = 2
    align_groups: int = 4
    align_backend: Literal["pytorch", "dcnv4", "auto"] = "pytorch"
    # ``dcnv4``: the release's zero start (aligned views are zero until the offsets train);
    # ``identity``: each aligned view starts as a linear map of itself (see align.AlignConfig).
    align_init: Literal["dcnv4", "identity"] = "dcnv4"

    # roi_sampling_ratio <= 0 is valid: torchvision's roi_align then picks it per box.
    RANGES: ClassVar[Mapping[str, Range]] = {
        "num_views": AT_LEAST_1,
        "roi_size": AT_LEAST_1,
        "align_groups": AT_LEAST_1,
    }


@dataclass(frozen=True)
class ResamplerConfig(RangeChecked):
    """BLIP-2 Q-Former (BERT-base width) reading the fused region tokens."""

    num_queries: int = 32
    width: int = 768
    layers: int = 12
    heads: int = 12
    intermediate: int = 3072
    cross_attention_freq: int = 2

    RANGES: ClassVar[Mapping[str, Range]] = {
        "num_queries": AT_LEAST_1,
        "width": AT_LEAST_1,
        "layers": AT_LEAST_1,
        "heads": AT_LEAST_1,
        "intermediate": AT_LEAST_1,
        "cross_attention_freq": AT_LEAST_1,
    }


@dataclass(frozen=True)
class HeadConfig(RangeChecked):
    """The cross-attention stacks of the tagging and contrastive decoders."""

    width: int = 256
    layers: int = 2
    heads: int = 4
    intermediate: int = 1024

    RANGES: ClassVar[Mapping[str, Range]] = {
        "width": AT_LEAST_1,
        "layers": AT_LEAST_1,
        "heads": AT_LEAST_1,
        "intermediate": AT_LEAST_1,
    }


@dataclass(frozen=True)
class LanguageConfig(RangeChecked):
    """Flan-T5 language decoder (frozen) with projected region tokens and control words.

    ``tokenizer`` is ``word`` (the built-in word-level tokenizer for small models, vocabulary in
    ``vocab_file``) or a local Hugging Face T5 tokenizer directory.
    """

    d_model: int = 2048
    d_ff: int = 5120
    d_kv: int = 64
    num_heads: int = 32
    num_layers: int = 24
    num_decoder_layers: int = 24
    vocab_size: int = 32128
    relative_attention_num_buckets: int = 32
    tokenizer: str = "google/flan-t5-xl"
    vocab_file: str | None = None
    max_txt_len: int = 32
    control_drop_all_p: float = 0.5
    control_keep_p: float = 0.5
    # LAVIS casts the frozen Flan-T5 to bf16 and runs it under bf16 autocast.
    precision: Literal["bf16", "fp32"] = "bf16"
    # Standard deviation of a from-scratch ``lm_head`` (None: Hugging Face's T5 init, std 1).
    # Flan-T5's head is untied, and HF initialises an untied head like the tied embedding but
    # without the tied model's d_model ** -0.5 output scale, so a random T5 starts with logits of
    # standard deviation ~sqrt(d_model) and a caption loss near 26 instead of log(vocab).
    lm_head_init_std: float | None = None

    RANGES: ClassVar[Mapping[str, Range]] = {
        "d_model": AT_LEAST_1,
        "d_ff": AT_LEAST_1,
        "d_kv": AT_LEAST_1,
        "num_heads": AT_LEAST_1,
        "num_layers": AT_LEAST_1,
        "num_decoder_layers": AT_LEAST_1,
        "vocab_size": AT_LEAST_1,
        "relative_attention_num_buckets": AT_LEAST_1,
        "max_txt_len": AT_LEAST_1,
        "control_drop_all_p": UNIT,
        "control_keep_p": UNIT,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lm_head_init_std is not None:
            check_ranges(self, {"lm_head_init_std": POSITIVE})


@dataclass(frozen=True)
class GenerationConfig(RangeChecked):
    """Caption generation settings (benchmarks: beams 2, 20 new tokens; demo: 5 beams, 30)."""

    num_beams: int = 2
    max_new_tokens: int = 20
    min_length: int = 1
    repetition_penalty: float = 1.5
    length_penalty: float = 0.0

    # length_penalty may be any number (negative favours short captions).
    RANGES: ClassVar[Mapping[str, Range]] = {
        "num_beams": AT_LEAST_1,
        "max_new_tokens": AT_LEAST_1,
        "min_length": AT_LEAST_0,
        "repetition_penalty": POSITIVE,
    }


@dataclass(frozen=True)
class WeightsConfig:
    """Local weight files loaded right after building, in this order; nothing is downloaded.

    Attributes:
        eva_vit: ``eva_vit_g.pth`` (or an EVA-CLIP file with ``visual.*`` keys).
        flan_t5: a local Flan-T5 directory (also used as the tokenizer when
            ``language.tokenizer`` is not a directory).
        blip2: BLIP-2 stage-2 checkpoint (query tokens, ln_vision, Q-Former, t5_proj).
        text_tower: ``eva_clip_psz14.pt`` (its ``text.*`` keys).
        towers: a tower pre-training checkpoint of ours (``shapes.towers``, stage 1 of the
            shapes recipe): its ``vision.*``; the pre-training head is not loaded.
        checkpoint: a DynRefer file, the authors' release or one of ours, loaded last.
    """

    eva_vit: str | None = None
    flan_t5: str | None = None
    blip2: str | None = None
    text_tower: str | None = None
    towers: str | None = None
    checkpoint: str | None = None


@dataclass(frozen=True)
class DynReferConfig(RangeChecked):
    """The whole model. Loss weights, thresholds and the text lists live here too.

    Attributes:
        tag_list: one-tag-per-line file of the tag vocabulary (K tags).
        labels: a JSON file with ``attributes`` (OVAD-style) and/or ``categories`` (as in an
            annotation file); when set, predictions carry ``attr`` and ``cls`` for them.
        frozen: the parts that do not train: ``vision`` (ViT + ln_vision), ``text`` (text
            tower), ``language`` (the T5), ``queries`` (the Q-Former's query tokens). The paper
            freezes all four because they are pretrained; a part trained from scratch must
            train (a frozen random tower is not the method).
        tag_threshold: sigmoid threshold of predicted tags (0.7; 0.8 VG, 0.76 RefCOCOg).
        region_chunk: regions per chunk in ``predict_answers`` (bounded memory).
        share_views: encode each distinct view image of a chunk once (``view_dedup``); the
            outputs are the same either way.
        attribute_score: how ``attr`` is written: ``release`` sigmoid(s), as the release and
            method.md write it (values near 0.5-0.75 for any region); ``siglip`` the SigLIP
            probability sigmoid(s * e^t + b) the label term trains (the shapes model). The
            rankings, and so OVAD AP, are the same.
        head_precision: ``bf16`` reads the tag, attribute and class heads out as the release
            does (bf16 logits and sigmoid, tags kept when above the bf16-rounded threshold:
            0.7 acts as 0.70117); ``fp32`` for models trained and tuned in float32.
        grounding_threshold: ``ground`` matches a region to a text when their region-text
            probability is at least this; choose it on a validation split.
        grounding_relative: and when it is at least this fraction of the best region's
            probability for that text (0: the threshold alone). The absolute threshold decides
            whether anything matches, the relative one how many do.
    """

    vision: VisionConfig = field(default_factory=VisionConfig)
    region: RegionConfig = field(default_factory=RegionConfig)
    resampler: ResamplerConfig = field(default_factory=ResamplerConfig)
    heads: HeadConfig = field(default_factory=HeadConfig)
    text: TextTowerConfig = field(default_factory=TextTowerConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    tag_list: str | None = None
    labels: str | None = None
    # The paper freezes the ViT, text tower, LLM and query tokens because they are pretrained.
    # A model without such weights (the shapes model) pre-trains some of them first or trains
    # them with the rest: a frozen random tower is not the method.
    frozen: tuple[Literal["vision", "text", "language", "queries"], ...] = (
        "vision", "text", "language", "queries")
    tag_threshold: float = 0.7
    loss_weight_lm: float = 1.0
    # The release sums ASL over each GPU's 64 regions with weight 0.01, and DDP averages the
    # GPUs: 0.01 * 64 = 0.64 times ASL averaged over regions. Written as a mean over the global
    # batch, the objective no longer depends on how the batch is split over processes.
    loss_weight_tag: float = 0.64
    loss_weight_rtc: float = 0.5
    # The region-text decoder's label term (0 in the release): each region is also scored
    # against the class prompts and attribute prompts of ``labels``, with SigLIP's sigmoid
    # loss and the region's category / att_vec as targets (unknown labels ignored). With it the
    # ``cls`` / ``attr`` scores are trained, not zero-shot. Summed over prompts, mean over
    # regions.
    loss_weight_rtc_labels: float = 0.0
    # Initial SigLIP bias b' (release -10, made for batches of thousands; about -log(batch)
    # suits a small batch).
    rtc_logit_bias_init: float = -10.0
    region_chunk: int = 64
    # Regions of one image share views (t = 1 is the whole image for all of them; repeated and
    # nested boxes can give the same view box): the ViT encodes each distinct view once.
    share_views: bool = True
    attribute_score: Literal["release", "siglip"] = "release"
    # The release reads the tag / attribute / class heads out in bf16 (models.head_precision):
    # its tag decisions compare bf16 probabilities with a bf16 threshold.
    head_precision: Literal["bf16", "fp32"] = "bf16"
    # A region matches an expression when their SigLIP probability reaches this (``ground``).
    grounding_threshold: float = 0.5
    grounding_relative: float = 0.0

    # A threshold of 0 or 1 would pass every tag or none as control words.
    RANGES: ClassVar[Mapping[str, Range]] = {
        "tag_threshold": UNIT_OPEN,
        "loss_weight_lm": AT_LEAST_0,
        "loss_weight_tag": AT_LEAST_0,
        "loss_weight_rtc": AT_LEAST_0,
        "loss_weight_rtc_labels": AT_LEAST_0,
        "rtc_logit_bias_init": FINITE,
        "region_chunk": AT_LEAST_1,
        "grounding_threshold": UNIT_OPEN,
        "grounding_relative": UNIT,
    }

    @classmethod
    def from_mapping(cls, mapping: Any, where: str = "model") -> DynReferConfig:
        """Nested yaml mapping -> config; sub-sections are named like the stage fields.

        LAVIS's own keys of a ``model:`` section (``arch``, ``model_type``, ``pretrained``, ...)
        are accepted and left to LAVIS.
        """
        mapping = _lavis_weight_keys(_legacy_keys(dict(_plain(mapping) or {})), where)
        stages = {}
        for f in dataclasses.fields(cls):
            if f.default_factory is not dataclasses.MISSING and f.name in mapping:
                stage_type = type(f.default_factory())
                stages[f.name] = from_mapping(stage_type, mapping.pop(f.name), f"{where}.{f.name}")
        base = from_mapping(cls, mapping, where, ignore=LAVIS_MODEL_KEYS)
        return dataclasses.replace(base, **stages)

    def replace(self, **changes: Any) -> DynReferConfig:
        """A copy with some fields (or whole stages) changed."""
        return dataclasses.replace(self, **changes)


# Keys LAVIS itself reads from a model section; the model config does not model them.
LAVIS_MODEL_KEYS = ("arch", "model_type", "load_pretrained", "load_finetuned", "pretrained",
                    "finetuned")


# LAVIS's (load flag, path key) of a model section -> the ``weights`` field that loads the same
# file through this project's key-checked loaders. LAVIS loads ``finetuned`` when
# ``load_finetuned`` (else ``pretrained`` when ``load_pretrained``); for BLIP-2 models
# ``pretrained`` is the BLIP-2 stage-2 file.
LAVIS_WEIGHT_KEYS = (("load_finetuned", "finetuned", "checkpoint"),
                     ("load_pretrained", "pretrained", "blip2"))


def _lavis_weight_keys(mapping: dict[str, Any], where: str) -> dict[str, Any]:
    """Honour LAVIS's ``finetuned`` / ``pretrained`` (and ``load_*``) keys as ``weights`` entries,
    never ignore them: a section written the LAVIS way loads its files, and one that asks for a
    file it does not name, or names two for one slot, is an error."""
    weights = dict(mapping.get("weights") or {})
    for flag, key, target in LAVIS_WEIGHT_KEYS:
        wanted, path = mapping.get(flag), mapping.get(key)
        if wanted is not None and not isinstance(wanted, bool):
            raise ConfigError(f"{where}.{flag}: expected true or false, got {wanted!r}")
        if wanted is False:
            if path:
                logger.warning("%s.%s (%s) is not loaded: %s.%s is false", where, key, path,
                               where, flag)
            continue
        if not path:
            if wanted:
                raise ConfigError(f"{where}.{flag} is true but {where}.{key} names no file: name "
                                  f"it there or in {where}.weights.{target}")
            continue
        if weights.get(target) not in (None, path):
            raise ConfigError(f"{where}.{key} ({path}) and {where}.weights.{target} "
                              f"({weights[target]}) name two files for one slot: keep one")
        weights[target] = path
        if key == "finetuned":
            break  # LAVIS loads pretrained only when it loads no finetuned file
    if weights:
        mapping["weights"] = weights
    return mapping


def _legacy_keys(mapping: dict[str, Any]) -> dict[str, Any]:
    """Keys of older versions, translated: ``train_towers: true`` (before ``frozen``) meant
    that nothing is frozen, ``false`` the paper's default. Checkpoints written then record it."""
    if "train_towers" in mapping:
        train = mapping.pop("train_towers")
        if "frozen" not in mapping and train:
            mapping["frozen"] = ()
    return mapping


def _plain(node: Any) -> Any:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(node, DictConfig):
            return OmegaConf.to_container(node, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return node


__all__ = [
    "ConfigError",
    "DynReferConfig",
    "GenerationConfig",
    "HeadConfig",
    "LanguageConfig",
    "OutOfRange",
    "RegionConfig",
    "ResamplerConfig",
    "TextTowerConfig",
    "VisionConfig",
    "WeightsConfig",
]
