"""Where every weight of a DynRefer model comes from, and how foreign key names map onto ours.

One table, ``RENAMES``, holds the release's (callsys/DynRefer ``DynReferT5``) top-level names,
ours, and the files that carry each (release-checkpoints.md sections 1-3). Names ending in "."
are prefixes (the rest of the key is kept); the others match a whole key. Every loader in
``checkpoint.py`` derives its expected key set from this table, so a name is written once.

Sources: ``release`` (``vg1.2_5e.pth`` / ``refcocog_ft.pth``, the 347 trained tensors),
``blip2`` (``blip2_pretrained_flant5xl.pth``), ``eva_vit`` (``eva_vit_g.pth``), ``flan_t5``
(a Hugging Face ``google/flan-t5-xl`` folder), ``text`` (the ``text.*`` keys of
``eva_clip_psz14.pt``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rename:
    """One release name (or prefix) -> our name (or prefix), and the files that hold it."""

    release: str
    ours: str
    sources: tuple[str, ...]

    @property
    def is_prefix(self) -> bool:
        return self.release.endswith(".")


RENAMES: tuple[Rename, ...] = (
    Rename("cem_memory", "language.memory", ("release",)),
    Rename("attr_t", "contrastive.logit_scale", ("release",)),
    Rename("attr_b", "contrastive.logit_bias", ("release",)),
    Rename("Qformer.bert.", "resampler.qformer.", ("release", "blip2")),
    Rename("query_tokens", "resampler.query_tokens", ("blip2",)),
    Rename("t5_proj.", "language.proj.", ("release", "blip2")),
    Rename("t5_model.", "language.t5.model.", ("flan_t5",)),
    Rename("cvem_align.", "align.", ("release",)),
    Rename("cvem_mlp.", "fusion.", ("release",)),
    Rename("tag_head.", "tagging.head.", ("release",)),
    Rename("tag_vision_proj.", "tagging.vision_proj.", ("release",)),
    Rename("tag_text_proj.", "tagging.text_proj.", ("release",)),
    Rename("tag_fc.", "tagging.fc.", ("release",)),
    Rename("attr_head.", "contrastive.decoder.head.", ("release",)),
    Rename("attr_vision_proj.", "contrastive.decoder.vision_proj.", ("release",)),
    Rename("attr_text_proj.", "contrastive.decoder.text_proj.", ("release",)),
    Rename("attr_fc.", "contrastive.decoder.fc.", ("release",)),
    Rename("visual_encoder.", "vision.vit.", ("eva_vit",)),
    Rename("ln_vision.", "vision.ln_vision.", ("blip2",)),
    Rename("text_encoder.", "text_tower.", ("text",)),
)

# Our T5's input embedding; the release and BLIP-2 files (and LAVIS runner checkpoints of our
# model) carry two state-dict aliases of it (tied modules are listed under every path).
T5_SHARED = "language.t5.model.shared.weight"
T5_EMBED_ALIASES = ("language.t5.model.encoder.embed_tokens.weight",
                    "language.t5.model.decoder.embed_tokens.weight")
# The Q-Former's persistent ``arange`` buffer: in every LAVIS checkpoint, never a weight.
POSITION_IDS = "resampler.qformer.embeddings.position_ids"
NON_PARAMETER_KEYS = (POSITION_IDS, *T5_EMBED_ALIASES)

# Keys of a finetune_llm=True (LoRA) release model, which this model does not implement.
LORA_MARKERS = ("lora", "t5_model.base_model.")
# Key starts that identify EVA ViT files (flat ``eva_vit_g.pth``, or EVA-CLIP's ``visual.``).
VIT_KEY_STARTS = ("visual.", "blocks.", "patch_embed.", "cls_token", "pos_embed")


def _apply(name: str, rows: Iterable[Rename], reverse: bool = False) -> str | None:
    for row in rows:
        src, dst = (row.ours, row.release) if reverse else (row.release, row.ours)
        if (row.is_prefix and name.startswith(src)) or name == src:
            return dst + name[len(src):]
    return None


def release_to_ours(name: str, source: str | None = None) -> str | None:
    """Our name of a release/BLIP-2 key, or None when no row (of ``source``, if given) maps it.

    The non-parameter keys (``NON_PARAMETER_KEYS``) map for every source: LAVIS writes them
    into every checkpoint of a model with a Q-Former and a T5.
    """
    ours = _apply(name, RENAMES)
    if source is None or ours in NON_PARAMETER_KEYS:
        return ours
    return _apply(name, rows_of(source))


def ours_to_release(name: str) -> str | None:
    """The release's name of one of our keys, or None (e.g. ``region_pool``: no weights)."""
    return _apply(name, RENAMES, reverse=True)


def rows_of(source: str | None) -> tuple[Rename, ...]:
    """The table rows a source file holds (all rows for None)."""
    return RENAMES if source is None else tuple(r for r in RENAMES if source in r.sources)


def names_from(source: str, our_names: Iterable[str]) -> list[str]:
    """Those of ``our_names`` (in order) that ``source`` holds, by the table."""
    rows = rows_of(source)
    return [n for n in our_names if _apply(n, rows, reverse=True) is not None]


def detect_layout(keys: Iterable[str]) -> str:
    """Which kind of state dict these keys are: ``dynrefer`` (our names), ``release``, ``blip2``
    or ``eva_vit``.

    Raises:
        ValueError: no known layout (the message shows some keys).
    """
    keys = list(keys)
    heads = {k.split(".", 1)[0] for k in keys}
    ours = {r.ours.split(".", 1)[0] for r in RENAMES}
    release_only = {r.release.rstrip(".") for r in RENAMES if r.sources == ("release",)}
    blip2 = {r.release.split(".", 1)[0] for r in rows_of("blip2")}
    if heads & ours:
        return "dynrefer"
    if heads & release_only:
        return "release"
    if heads & blip2:
        return "blip2"
    if keys and all(k.startswith(VIT_KEY_STARTS) for k in keys):
        return "eva_vit"
    raise ValueError(f"unknown checkpoint layout: {len(keys)} keys, e.g. {keys[:5]} (expected "
                     f"DynRefer, DynRefer release, BLIP-2 or EVA ViT names)")
