"""Cached text-tower embeddings (tags, OVAD attribute prompts, class prompts) and the prompts.

Shape letters: K texts of a table, E embed dim, R regions, M attribute prompts, A attributes.

The release computes three tables once with the frozen text tower (``clip_embeds`` [4585, E] of
the RAM tags, ``att_embeds`` [474, E] of the OVAD "the" prompts, ``ov_embeds`` [80, E] of
"the {class}") and keeps them as frozen parameters, so they are not in its checkpoints
(release-checkpoints.md section 1.4). Here each is a ``TextEmbeddingTable``: a non-persistent
buffer, filled by ``refresh`` once the tower's weights are loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lavis_dynrefer.models.text_tower import TextTower

logger = logging.getLogger(__name__)

Tokenizer = Callable[[Sequence[str]], torch.Tensor]


class TextEmbeddingTable(nn.Module):
    """The tower's embeddings [K, E] of a fixed list of texts, cached, never trained or saved.

    Construction only allocates zeros (meta-safe, no tower needed); ``refresh`` computes the
    rows, in chunks and without gradients, and records the tower's ``weights_version`` so a table
    computed before the weights were loaded can be detected (``is_current``). A model holds one
    table per list (tags, attribute prompts, class prompts) and refreshes them all with
    ``refresh_tables``.

    Args:
        texts: the K strings, in row order.
        embed_dim: E, the tower's output width.
        chunk_size: texts per tower call (64 in the release).
    """

    def __init__(self, texts: Sequence[str], embed_dim: int, chunk_size: int = 64):
        super().__init__()
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self.texts = tuple(texts)
        self.embed_dim = embed_dim
        self.chunk_size = chunk_size
        self.tower_version: int | None = None
        self.register_buffer("embeddings", torch.zeros(len(self.texts), embed_dim),
                             persistent=False)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def ready(self) -> bool:
        """Whether ``refresh`` has filled the table."""
        return self.tower_version is not None

    def is_current(self, tower: TextTower) -> bool:
        """Whether the table was computed from the tower's present weights."""
        return self.tower_version == tower.weights_version

    @torch.no_grad()
    def refresh(self, tower: nn.Module, tokenizer: Tokenizer) -> torch.Tensor:
        """Recompute every row with the tower; returns the new [K, E] table.

        Runs on the tower's device; the result takes the buffer's device and dtype (the
        tower's device if the buffer is still on meta).
        """
        device = next(tower.parameters()).device
        chunks = [tower(tokenizer(list(self.texts[i: i + self.chunk_size])).to(device))
                  for i in range(0, len(self.texts), self.chunk_size)]
        values = torch.cat(chunks) if chunks else torch.zeros(0, self.embed_dim)
        if values.shape != (len(self.texts), self.embed_dim):
            raise ValueError(f"tower gave {tuple(values.shape)}, table expects "
                             f"[{len(self.texts)}, {self.embed_dim}]")
        target = device if self.embeddings.is_meta else self.embeddings.device
        self.embeddings = values.to(device=target, dtype=self.embeddings.dtype)
        self.tower_version = getattr(tower, "weights_version", 0)
        if self.tower_version == 0:
            logger.warning("text table of %d texts computed from a randomly initialised tower "
                           "(no weights loaded)", len(self.texts))
        return self.embeddings

    def forward(self) -> torch.Tensor:
        """The cached [K, E] table; raises if ``refresh`` was never called."""
        if not self.ready:
            raise RuntimeError("text embedding table is empty: call refresh(tower, tokenizer) "
                               "after loading the text tower weights")
        return self.embeddings

    def extra_repr(self) -> str:
        return (f"texts={len(self.texts)}, embed_dim={self.embed_dim}, "
                f"tower_version={self.tower_version}")


def refresh_tables(root: nn.Module, tower: nn.Module, tokenizer: Tokenizer) -> list[str]:
    """Refresh every ``TextEmbeddingTable`` inside ``root``; returns their module names."""
    names = []
    for name, module in root.named_modules():
        if isinstance(module, TextEmbeddingTable):
            module.refresh(tower, tokenizer)
            names.append(name)
    logger.info("refreshed %d text embedding tables: %s", len(names), names)
    return names


def class_prompts(class_names: Sequence[str]) -> list[str]:
    """The release's class prompts ``"the {name}"``, lower-cased (the paper: "a photo of a")."""
    return [f"the {name.lower()}" for name in class_names]


# OVAD's "the" prompt family, from the OVAD benchmark (OVAD-Benchmark/ovad-benchmark-code,
# ``ovamc/misc.py`` ``object_attribute_templates[is_has]["the"]``, used by ``ovamc/ova_clip.py``),
# which the release copies (callsys/DynRefer ``dynrefer/common/evaluation/ovad/misc.py``, used by
# ``DynReferT5.build_att_embeds`` with use_prompts ["the"] and an empty object word).
_THE_TEMPLATES = {
    "has": ("the {attr} {dobj} {noun}", "the {noun} has {attr} {dobj}"),
    "is": ("the {attr} {noun}", "the {noun} is {attr}"),
}
# Both codebases widen two maturity attributes with extra synonyms before building prompts.
_EXTRA_SYNONYMS = {
    "young/baby": "/kid/kids/child/toddler/boy/girl",
    "adult/old/aged": "/teen/elder",
}


@dataclass(frozen=True)
class AttributePrompts:
    """OVAD attribute prompts, grouped by attribute in attribute order.

    Attributes:
        templates: the M prompt strings.
        attribute_index: [M] the attribute position of each prompt.
        synonyms: [M] the synonym each prompt was built from.
        num_attributes: A.
    """

    templates: tuple[str, ...]
    attribute_index: tuple[int, ...]
    synonyms: tuple[str, ...]
    num_attributes: int

    def index_tensor(self, device: torch.device | str | None = None) -> torch.Tensor:
        """[M] int64 attribute position of each prompt."""
        return torch.tensor(self.attribute_index, dtype=torch.long, device=device)


def ovad_attribute_prompts(attributes: Sequence[Mapping[str, Any]],
                           noun: str = "") -> AttributePrompts:
    """OVAD's "the" prompts of each attribute, as OVAD's CLIP baseline and the release build them.

    For an attribute ``{"name": "type:syn1/syn2", "is_has_att": "is" | "has"}``: the synonyms
    are the names after the colon split on "/" (``young/baby`` and ``adult/old/aged`` get the
    extra maturity words); the object word of "has" prompts is the type with " tone" removed.
    Per synonym, in this order: "is" -> ``the {syn} {noun}``, ``the {noun} is {syn}``; "has" ->
    ``the {syn} {dobj} {noun}``, ``the {noun} has {syn} {dobj}``. The release leaves noun empty,
    giving e.g. "the clean", "the is clean", "the gray color", "the has gray color". Runs of
    whitespace are collapsed (the release keeps "the  is clean"; the CLIP tokenizer collapses
    whitespace, so the token ids are the same).

    Args:
        attributes: OVAD ``attributes`` sorted by id (position = id, as the converter writes
            them); an ``id`` field, where present, must equal the position.
        noun: the object word (OVAD's ``--object_word`` uses "object"; the release "").

    Returns:
        ``AttributePrompts``; prompts of attribute a are contiguous.
    """
    templates: list[str] = []
    index: list[int] = []
    synonyms: list[str] = []
    for position, attribute in enumerate(attributes):
        name, is_has = attribute.get("name"), attribute.get("is_has_att")
        if attribute.get("id", position) != position:
            raise ValueError(f"attribute at position {position} has id {attribute['id']}; "
                             f"pass the attributes sorted by id")
        if not isinstance(name, str) or ":" not in name:
            raise ValueError(f"attribute {position}: name {name!r} is not 'type:syn1/syn2'")
        if is_has not in _THE_TEMPLATES:
            raise ValueError(f"attribute {position} ({name}): is_has_att must be 'is' or "
                             f"'has', got {is_has!r}")
        att_type, att_list = name.split(":", 1)
        att_list += _EXTRA_SYNONYMS.get(att_list, "")
        dobj = att_type.replace(" tone", "")
        for synonym in att_list.split("/"):
            for template in _THE_TEMPLATES[is_has]:
                text = template.format(attr=synonym, dobj=dobj, noun=noun)
                templates.append(" ".join(text.split()))
                index.append(position)
                synonyms.append(synonym)
    return AttributePrompts(tuple(templates), tuple(index), tuple(synonyms), len(attributes))


def max_over_prompts(scores: torch.Tensor, attribute_index: torch.Tensor,
                     num_attributes: int) -> torch.Tensor:
    """Score per attribute = max over its prompts (OVAD's and the release's synonym rule).

    Args:
        scores: [R, M] per-prompt scores (sigmoid is monotonic, so logits or probabilities).
        attribute_index: [M] attribute position of each prompt.
        num_attributes: A; every attribute must have at least one prompt.

    Returns:
        [R, A].
    """
    if scores.dim() != 2 or attribute_index.shape != (scores.shape[1],):
        raise ValueError(f"expected scores [R, M] and index [M], got {tuple(scores.shape)} and "
                         f"{tuple(attribute_index.shape)}")
    index = attribute_index.to(scores.device)
    counts = torch.bincount(index, minlength=num_attributes)
    if counts.numel() != num_attributes or bool((counts < 1).any()):
        raise ValueError(f"attribute_index must cover 0..{num_attributes - 1}, each at least once")
    out = scores.new_empty(scores.shape[0], num_attributes)
    return out.scatter_reduce_(1, index.expand_as(scores), scores, "amax", include_self=False)
