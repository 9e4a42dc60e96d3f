"""Parameters and per-region compute of DynRefer, stage by stage, measured without weights.

Usage::

    python -m lavis_dynrefer.benchmark cost                        # flant5xl: table on stdout
    python -m lavis_dynrefer.benchmark cost --model-type tiny --json OUT.json
    python -m lavis_dynrefer.benchmark.cost --model-type tiny --json   # JSON as the last line

The model is built with every parameter on the meta device (``build_dynrefer(meta=True,
with_tokenizers=False)``: no weights, no tokenizer files, no network) and each stage runs on
meta tensors under ``torch.utils.flop_counter.FlopCounterMode`` (about 40 s on a CPU, half of
it for the alternatives the notes cite); where the model would tokenize, fixed-length token-id
tensors are fed instead. The table gives the parameters of each stage (count and share of the
total) and the multiply-adds per region for 1, 2 and 3 views of 224 px and one 448-px view,
beside the paper's Table 5 / Table 9 numbers with ratios ours / paper, and notes that explain,
from measurements, the rows more than 5 % off (``cost_report``). ``--json`` adds the same as
one JSON object, the last line.

What counts: FlopCounterMode's formulas for matmuls (mm, addmm, bmm, baddbmm), convolutions
and fused attention; elementwise ops, norms, softmax, embedding lookups, RoI-Align and the
deformable bilinear sampling count zero. FlopCounterMode reports 2 x multiply-adds; this module
reports multiply-adds, the paper's convention. On CPU tensors
``F.scaled_dot_product_attention`` runs a fused kernel FlopCounterMode has no formula for (it
counts 0); on meta it decomposes into bmm and is counted, one more reason to count on meta.

"Per region" is the marginal cost of one more region, count(R=2) - count(R=1), so per-batch
work (the text projection of a cached table, shared by all regions) is left out. The heads run
the ``CountSettings``: tagging over the K = 4585 RAM tags, contrastive over the 474 OVAD
templates, the text tower over one 77-token text, the LLM over 32 region + 6 control tokens
in the encoder and 20 decoder tokens; the notes say which settings match the paper.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from transformers import BatchEncoding

from lavis_dynrefer.benchmark.cost_report import (
    HEAD_STAGES,
    PAPER_MODEL_TYPE,
    REGION_STAGES,
    STAGES,
    Alternatives,
    CostCount,
    format_table,
    to_json,
)
from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.models.fusion import ViewFusion
from lavis_dynrefer.models.meta_init import count_parameters, meta_parameters
from lavis_dynrefer.models.region_pool import RegionPool
from lavis_dynrefer.models.vision import VisionEncoder

logger = logging.getLogger(__name__)

META = torch.device("meta")
# The release's cached text tables: RAM tags, OVAD "the" templates, COCO class prompts.
RELEASE_TABLE_ROWS = 4585 + 474 + 80


@dataclass(frozen=True)
class ViewSetting:
    """Views per region and their side in pixels (named like ``3x224``)."""

    num_views: int
    image_size: int

    @property
    def name(self) -> str:
        return f"{self.num_views}x{self.image_size}"


VIEW_SETTINGS = (ViewSetting(1, 224), ViewSetting(2, 224), ViewSetting(3, 224),
                 ViewSetting(1, 448))


@dataclass(frozen=True)
class CountSettings:
    """What one region runs through the heads.

    Attributes:
        tag_queries: K tag queries of the tagging decoder (the RAM list: 4585).
        contrastive_texts: texts scored by the contrastive decoder (OVAD "the" templates: 474).
        text_tokens: tokens of the one text the text tower encodes (capped at its context).
        control_tokens: control-word tokens after the region tokens in the T5 encoder.
        decoder_tokens: tokens of the one T5 decoder pass (benchmarks: max_new_tokens 20).
    """

    tag_queries: int = 4585
    contrastive_texts: int = 474
    text_tokens: int = 77
    control_tokens: int = 6
    decoder_tokens: int = 20


def load_model_config(model_type: str) -> DynReferConfig:
    """The packaged yaml of a model type (``flant5xl``, ``tiny``) as a typed config."""
    paths = DynReferModel.PRETRAINED_MODEL_CONFIG_DICT
    if model_type not in paths:
        raise ValueError(f"unknown model type {model_type!r}; known: {sorted(paths)}")
    return DynReferConfig.from_mapping(OmegaConf.load(paths[model_type]).model)


def measuring_config(config: DynReferConfig) -> DynReferConfig:
    """The config with every stage in float32.

    Half-precision towers run under ``torch.autocast``, which rejects the meta device; neither
    parameter counts nor FLOPs depend on the dtype.
    """
    changes = {}
    for f in dataclasses.fields(config):
        stage = getattr(config, f.name)
        if dataclasses.is_dataclass(stage) and "precision" in {
                g.name for g in dataclasses.fields(stage)}:
            changes[f.name] = dataclasses.replace(stage, precision="fp32")
    return config.replace(**changes)


def build_meta_model(config: DynReferConfig) -> DynReferModel:
    """The full-size model, parameters and buffers on meta, float32, without tokenizers."""
    model = build_dynrefer(measuring_config(config), meta=True, with_tokenizers=False)
    return model.to(META)  # buffers too: the text tower's causal mask


def count_macs(run: Callable[[], object]) -> dict[str, int]:
    """Multiply-adds of ``run()`` per FlopCounterMode module name (``Global`` = all)."""
    with FlopCounterMode(display=False) as counter:
        run()
    counts = {name: sum(ops.values()) // 2 for name, ops in counter.get_flop_counts().items()}
    counts.setdefault("Global", 0)
    return counts


def per_region(run: Callable[[int], object]) -> dict[str, int]:
    """Marginal multiply-adds of one region: counts of ``run(2)`` minus those of ``run(1)``."""
    one, two = count_macs(lambda: run(1)), count_macs(lambda: run(2))
    return {k: two.get(k, 0) - one.get(k, 0) for k in set(one) | set(two)}


def stage_parameters(model: DynReferModel) -> dict[str, int]:
    """Parameters per stage (``STAGES``), plus ``other`` for any outside them."""
    params = {stage: count_parameters(getattr(model, stage)) for stage in STAGES}
    other = count_parameters(model) - sum(params.values())
    if other:
        params["other"] = other
    return params


@contextlib.contextmanager
def swapped(model: nn.Module, **stages: nn.Module) -> Iterator[nn.Module]:
    """Temporarily replace submodules of ``model`` (a view setting's vision / pool / fusion)."""
    old = {name: getattr(model, name) for name in stages}
    for name, module in stages.items():
        setattr(model, name, module)
    try:
        yield model
    finally:
        for name, module in old.items():
            setattr(model, name, module)


def roi_size(config: DynReferConfig, image_size: int) -> int:
    """RoI output side S for views of ``image_size`` px.

    The release pools to ``224 // 14`` = the patch grid, so S scales with the image: a 448-px
    view gives a 32 x 32 RoI (1025 fused tokens).
    """
    return config.region.roi_size * image_size // config.vision.image_size


def region_macs(model: DynReferModel, setting: ViewSetting,
                roi: int | None = None) -> dict[str, int]:
    """Multiply-adds per region of each region-embedding stage (``REGION_STAGES``).

    Runs ``model.encode_regions`` with the stages a view setting needs (a ViT for its image
    size, a fusion MLP for its view count, the RoI size for its grid) swapped in.

    Args:
        model: a meta model from ``build_meta_model``.
        setting: views per region and their size.
        roi: RoI output side; default ``roi_size(config, setting.image_size)``.
    """
    config = model.config
    size, views = setting.image_size, setting.num_views
    roi = roi or roi_size(config, size)
    with meta_parameters():
        vision = model.vision
        if size != config.vision.image_size:
            vision = VisionEncoder(dataclasses.replace(config.vision, image_size=size)).lock()
        fusion = ViewFusion(config.vision.width, views)
    pool = RegionPool(roi, config.vision.patch_size, config.region.roi_sampling_ratio)
    with swapped(model, vision=vision.to(META), region_pool=pool, fusion=fusion.to(META)):
        # FlopCounterMode names a module called outside a parent's forward by its class.
        names = {stage: type(getattr(model, stage)).__name__ for stage in REGION_STAGES}
        counts = per_region(lambda r: model.encode_regions(
            torch.empty(r, views, 3, size, size, device=META),
            torch.zeros(r, views, 4, device=META)))
    macs = {stage: counts.get(name, 0) for stage, name in names.items()}
    if len(set(names.values())) != len(names) or sum(macs.values()) != counts["Global"]:
        raise RuntimeError(f"could not attribute the region embedding's {counts['Global']} "
                           f"multiply-adds to its stages {names}: {macs}")
    return macs


class FixedLengthTokenizer:
    """Stands in for the T5 tokenizer: every text becomes ``length`` token ids (shapes only)."""

    def __init__(self, length: int):
        self.length = length

    def __call__(self, texts: Sequence[str], **_: object) -> BatchEncoding:
        shape = (len(texts), self.length)
        return BatchEncoding({"input_ids": torch.zeros(shape, dtype=torch.long),
                              "attention_mask": torch.ones(shape, dtype=torch.long)})


def _region_tokens(model: DynReferModel, num_regions: int) -> torch.Tensor:
    resampler = model.config.resampler
    return torch.empty(num_regions, resampler.num_queries, resampler.width, device=META)


def language_macs(model: DynReferModel, control_tokens: int, decoder_tokens: int) -> int:
    """LLM multiply-adds per region: ``language.encoder_inputs`` (projection, control-word
    embeddings + memory) and one T5 encoder-decoder pass over ``decoder_tokens`` tokens."""
    language = model.language
    old = language.tokenizer
    language.tokenizer = FixedLengthTokenizer(control_tokens)

    def run(r: int) -> None:
        inputs, mask = language.encoder_inputs(_region_tokens(model, r), [""] * r)
        decoder_ids = torch.zeros(r, decoder_tokens, dtype=torch.long, device=META)
        language.t5.model(inputs_embeds=inputs, attention_mask=mask,
                          decoder_input_ids=decoder_ids, use_cache=False)

    try:
        return per_region(run)["Global"]
    finally:
        language.tokenizer = old


def query_decoder_macs(decoder: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                       model: DynReferModel, num_texts: int) -> int:
    """Multiply-adds per region of a text-query decoder scoring ``num_texts`` texts."""
    texts = torch.empty(num_texts, model.config.text.embed_dim, device=META)
    return per_region(lambda r: decoder(_region_tokens(model, r), texts))["Global"]


def text_tower_macs(model: DynReferModel, num_tokens: int) -> int:
    """Multiply-adds of the text tower for one text of ``num_tokens`` tokens."""
    length = min(num_tokens, model.config.text.context_length)
    return per_region(lambda r: model.text_tower(
        torch.zeros(r, length, dtype=torch.long, device=META)))["Global"]


def head_macs(model: DynReferModel, settings: CountSettings) -> dict[str, int]:
    """Multiply-adds per region of the heads (``HEAD_STAGES``) under ``settings``."""
    macs = {
        "tagging": query_decoder_macs(model.tagging, model, settings.tag_queries),
        "contrastive": query_decoder_macs(model.contrastive, model, settings.contrastive_texts),
        "text_tower": text_tower_macs(model, settings.text_tokens),
        "language": language_macs(model, settings.control_tokens, settings.decoder_tokens),
    }
    assert set(macs) == set(HEAD_STAGES)
    return macs


def measure_alternatives(model: DynReferModel, settings: CountSettings,
                         language: int | None = None,
                         region_448: int | None = None) -> Alternatives:
    """Counts of other plausible head settings and RoI sizes, for the notes.

    Args:
        model: the meta model.
        settings: the chosen settings.
        language: the LLM count of ``settings`` if already measured.
        region_448: the region-embedding total of one 448-px view with the default RoI size,
            if already measured.
    """
    c, n = settings.control_tokens, settings.decoder_tokens
    base = language if language is not None else language_macs(model, c, n)
    alt = Alternatives(
        language_per_encoder_token=language_macs(model, c + 1, n) - base,
        language_per_decoder_token=language_macs(model, c, n + 1) - base,
    )
    max_len = model.config.language.max_txt_len
    for control, decoder, why in ((0, n, "no control words"),
                                  (0, max_len, "max_txt_len caption, teacher-forced")):
        alt.language[f"{control} control + {decoder} decoder ({why})"] = language_macs(
            model, control, decoder)
    texts = settings.contrastive_texts
    for num, why in ((1, "one caption"), (80, "COCO classes"),
                     (texts // 2, "one prompt per OVAD synonym"), (texts, "OVAD templates"),
                     (512, "8 x 64 gathered training captions")):
        alt.contrastive[f"{num} ({why})"] = (num, query_decoder_macs(model.contrastive, model,
                                                                     num))
    alt.contrastive_per_text = (query_decoder_macs(model.contrastive, model, texts + 1)
                                - query_decoder_macs(model.contrastive, model, texts))
    big = ViewSetting(1, 448)
    default_roi = roi_size(model.config, big.image_size)
    for roi in sorted({model.config.region.roi_size, default_roi}):
        if roi == default_roi and region_448 is not None:
            alt.region_448[roi] = region_448
        else:
            alt.region_448[roi] = sum(region_macs(model, big, roi).values())
    return alt


def count_cost(config: DynReferConfig, model_type: str = "custom",
               settings: CountSettings | None = None,
               views: Sequence[ViewSetting] = VIEW_SETTINGS,
               explain: bool = True) -> CostCount:
    """Build the model on meta and count parameters and per-region multiply-adds per stage.

    Args:
        config: the model configuration (any precision; counting runs in float32).
        model_type: name shown in the report.
        settings: what the heads run per region.
        views: the view settings counted (the report expects ``VIEW_SETTINGS``).
        explain: also measure the alternatives the notes cite (a few seconds more).
    """
    settings = settings or CountSettings()
    logger.info("building %s on the meta device", model_type)
    model = build_meta_model(config)
    params = stage_parameters(model)
    macs: dict[str, dict[str, int]] = {stage: {} for stage in STAGES}
    for setting in views:
        logger.info("counting the region embedding, %s", setting.name)
        for stage, value in region_macs(model, setting).items():
            macs[stage][setting.name] = value
    logger.info("counting the heads")
    for stage, value in head_macs(model, settings).items():
        macs[stage] = {setting.name: value for setting in views}
    alternatives = None
    if explain:
        logger.info("counting alternative settings for the notes")
        big = ViewSetting(1, 448).name
        alternatives = measure_alternatives(
            model, settings, language=macs["language"][views[0].name],
            region_448=sum(macs[stage][big] for stage in REGION_STAGES) if big in macs["vision"]
            else None)
    return CostCount(
        model_type=model_type, params=params, macs=macs,
        settings={"region_tokens": config.resampler.num_queries,
                  **dataclasses.asdict(settings)},
        roi_sizes={s.name: roi_size(model.config, s.image_size) for s in views},
        cached_text_values=RELEASE_TABLE_ROWS * config.text.embed_dim,
        alternatives=alternatives,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model-type`` and the ``CountSettings`` fields (shared with the ``cost`` suite)."""
    parser.add_argument("--model-type", default="flant5xl",
                        choices=sorted(DynReferModel.PRETRAINED_MODEL_CONFIG_DICT))
    defaults = CountSettings()
    for f in dataclasses.fields(CountSettings):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=int,
                            default=getattr(defaults, f.name), help=f"default {f.default}")


def count_from_arguments(args: argparse.Namespace) -> CostCount:
    settings = CountSettings(**{f.name: getattr(args, f.name)
                                for f in dataclasses.fields(CountSettings)})
    # The notes' alternatives explain the paper's numbers, which are for flant5xl only.
    return count_cost(load_model_config(args.model_type), args.model_type, settings,
                      explain=args.model_type == PAPER_MODEL_TYPE)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lavis_dynrefer.benchmark.cost",
        description="Parameters and per-region multiply-adds of DynRefer by stage, beside the "
                    "paper's numbers (no weights needed).")
    add_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="also print the report as one JSON object (the last line)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    count = count_from_arguments(args)
    sys.stdout.write(format_table(count) + "\n")
    if args.json:
        sys.stdout.write(json.dumps(to_json(count)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
