"""The frozen EVA-CLIP text tower (an open_clip-style ``TextTransformer``) and its weight loader.

Shape letters: N texts, T tokens (T <= context length), D width, E embed dim.

Module names and shapes are those of the release's ``TextTransformer`` (callsys/DynRefer
``dynrefer/models/eva_clip/eva_model.py``, itself adapted from open_clip), so the 150 ``text.*``
keys of ``eva_clip_psz14.pt`` load 1:1 (release-checkpoints.md section 3). The causal mask is a
non-persistent buffer, as there: it is in neither the EVA file nor any checkpoint.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lavis_dynrefer.models.lockable import Lockable

logger = logging.getLogger(__name__)

# EVA's own loader (and so a user's re-saved file) may wrap the state dict in one of these keys.
WRAPPER_KEYS = ("state_dict", "model", "module")
# Older open_clip versions saved the causal mask as a persistent buffer; it is rebuilt here.
DEFAULT_ALLOWED_EXTRA = ("attn_mask",)


@dataclass(frozen=True)
class TextTowerConfig:
    """Sizes of the text tower; the defaults are the release's EVA-CLIP-g text tower.

    Attributes:
        vocab_size: token vocabulary (49408, the CLIP BPE vocabulary incl. SOT/EOT).
        width: D, transformer width.
        layers: residual attention blocks.
        heads: attention heads (D must be divisible by heads).
        context_length: longest token sequence (77).
        embed_dim: E, output width after ``text_projection`` (1024).
    """

    vocab_size: int = 49408
    width: int = 768
    layers: int = 12
    heads: int = 12
    context_length: int = 77
    embed_dim: int = 1024

    def __post_init__(self) -> None:
        for name in ("vocab_size", "width", "layers", "heads", "context_length", "embed_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Additive causal mask [T, T]: 0 on and below the diagonal, -inf above (i sees j <= i)."""
    return torch.full((length, length), float("-inf"), device=device).triu_(1)


class ResidualAttentionBlock(nn.Module):
    """Pre-LN block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))`` (exact GELU, ratio 4)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        # nn.MultiheadAttention gives the file's ``attn.in_proj_weight`` / ``attn.out_proj`` names.
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, 4 * width)),
            ("gelu", nn.GELU()),
            ("c_proj", nn.Linear(4 * width, width)),
        ]))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        """[N, T, D] -> [N, T, D], with the additive [T, T] mask."""
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """The block stack; exists so the parameter names read ``transformer.resblocks.{i}``."""

    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, attn_mask)
        return x


class TextTower(Lockable):
    """CLIP text transformer: token ids -> the projected feature of each text's EOT token.

    Building touches no file, network or GPU and works under ``torch.device("meta")``; weights
    come from ``load_text_tower_weights``; ``lock()`` (from ``Lockable``) freezes it and keeps it
    in eval mode under a parent's ``.train()``. ``weights_version`` counts successful loads (0 means
    the random initialisation) so cached text tables can tell whether they are current.

    Args:
        config: sizes; the defaults are the release's.
    """

    def __init__(self, config: TextTowerConfig | None = None):
        super().__init__()
        self.config = config = config or TextTowerConfig()
        self.transformer = Transformer(config.width, config.layers, config.heads)
        self.token_embedding = nn.Embedding(config.vocab_size, config.width)
        self.positional_embedding = nn.Parameter(torch.empty(config.context_length, config.width))
        self.ln_final = nn.LayerNorm(config.width)
        self.text_projection = nn.Parameter(torch.empty(config.width, config.embed_dim))
        # CLIP's contrastive temperature: part of the file, unused by DynRefer, so never
        # trainable (a trainable parameter without gradient stops DDP training at its second
        # step when find_unused_parameters is off, the runner's default).
        self.logit_scale = nn.Parameter(torch.full((), math.log(1 / 0.07)), requires_grad=False)
        self.register_buffer("attn_mask", causal_mask(config.context_length), persistent=False)
        self.weights_version = 0
        self.init_parameters()

    def init_parameters(self) -> None:
        """open_clip's initialisation (normal, depth-scaled projections); no-op on meta."""
        width, layers = self.config.width, self.config.layers
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = width**-0.5 * (2 * layers) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=width**-0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * width) ** -0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=width**-0.5)

    def reset_attn_mask(self) -> None:
        """Rebuild the causal mask, e.g. after ``to_empty`` left the buffer uninitialised."""
        self.attn_mask = causal_mask(self.config.context_length, device=self.attn_mask.device)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Encode token ids.

        Args:
            token_ids: [N, T] int64 ids, SOT first, EOT (the largest id) after the text, zeros
                after it; T <= context length.

        Returns:
            [N, E]: the EOT token's feature after ``ln_final``, times ``text_projection``.
            Causal attention makes it depend only on the tokens up to the EOT.
        """
        if token_ids.dim() != 2:
            raise ValueError(f"expected token ids [N, T], got shape {tuple(token_ids.shape)}")
        length = token_ids.shape[1]
        if not 1 <= length <= self.config.context_length:
            raise ValueError(f"T must be in 1..{self.config.context_length}, got {length}")
        x = self.token_embedding(token_ids) + self.positional_embedding[:length]
        mask = self.attn_mask[:length, :length].to(x.dtype)
        x = self.ln_final(self.transformer(x, mask))
        # As open_clip: the EOT id (49407) is the largest id of every sequence.
        eot = x[torch.arange(x.shape[0], device=x.device), token_ids.argmax(dim=-1)]
        return eot @ self.text_projection

    def extra_repr(self) -> str:
        return f"{self.config}, locked={self.locked}, weights_version={self.weights_version}"


@dataclass(frozen=True)
class TextTowerLoadReport:
    """What ``load_text_tower_weights`` did.

    Attributes:
        loaded: the tower's names, all of them, now holding the file's values.
        dropped: allow-listed extra text keys (file names) that were ignored.
        unwrapped: wrapper keys taken, outermost first (e.g. ``("model",)``).
        stripped_module_prefix: whether ``module.`` prefixes were removed.
        other_keys: count of file keys outside the prefix (the ``visual.*`` tower and the rest).
    """

    loaded: tuple[str, ...]
    dropped: tuple[str, ...]
    unwrapped: tuple[str, ...]
    stripped_module_prefix: bool
    other_keys: int


def _examples(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in list(names)[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _unwrap(checkpoint: Any) -> tuple[Mapping[str, Any], tuple[str, ...]]:
    """Peel ``{"state_dict"|"model"|"module": ...}`` layers off a loaded checkpoint."""
    unwrapped: list[str] = []
    while isinstance(checkpoint, Mapping):
        key = next((k for k in WRAPPER_KEYS if isinstance(checkpoint.get(k), Mapping)), None)
        if key is None:
            return checkpoint, tuple(unwrapped)
        unwrapped.append(key)
        checkpoint = checkpoint[key]
    raise ValueError(f"expected a state dict (a mapping of names to tensors), got "
                     f"{type(checkpoint).__name__}")


def _strip_module(state: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Remove (repeated) DataParallel/DDP ``module.`` prefixes from every key."""
    stripped, changed = {}, False
    for key, value in state.items():
        while key.startswith("module."):
            key, changed = key[len("module."):], True
        stripped[key] = value
    return stripped, changed


def load_text_tower_weights(
    tower: TextTower,
    path_or_state_dict: str | Path | Mapping[str, Any],
    *,
    prefix: str = "text.",
    allowed_extra: Sequence[str] = DEFAULT_ALLOWED_EXTRA,
) -> TextTowerLoadReport:
    """Load the text tower from an EVA-CLIP file and refuse anything short of a full match.

    Accepts the ``eva_clip_psz14.pt`` layout (``text.*`` keys next to ``visual.*`` keys), also
    wrapped in ``{"model"|"module"|"state_dict": ...}`` and/or with ``module.`` key prefixes.
    Unlike the release (a substring filter and ``strict=False`` with the result discarded, which
    silently keeps a random tower for a wrapped file), every one of the tower's keys must be
    found with its shape, and text keys the tower does not have are refused unless listed in
    ``allowed_extra``. Values are copied into the tower's dtype (the file is fp16, the tower
    fp32). The causal mask is rebuilt, so a tower built on meta and materialised with
    ``to_empty`` is ready afterwards.

    Args:
        tower: the tower to fill (materialised, not on meta).
        path_or_state_dict: a file for ``torch.load(weights_only=True)`` or a loaded mapping.
        prefix: the tower's key prefix in the file (``""`` for a bare tower state dict).
        allowed_extra: tower-relative names that may be in the file and are ignored.

    Returns:
        A ``TextTowerLoadReport``.

    Raises:
        ValueError: keys missing, shapes different, non-tensor values or unexpected text keys;
            the message gives counts and examples.
    """
    if any(p.is_meta for p in tower.parameters()):
        raise ValueError("the tower is on the meta device; materialise it first, e.g. "
                         "tower.to_empty(device='cpu')")
    if isinstance(path_or_state_dict, Mapping):
        checkpoint: Any = path_or_state_dict
        source = "the given state dict"
    else:
        source = str(path_or_state_dict)
        checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    state, unwrapped = _unwrap(checkpoint)
    state, stripped = _strip_module(state)

    file_text = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    other_keys = len(state) - len(file_text)
    expected = tower.state_dict()
    missing = [name for name in expected if name not in file_text]
    extra = [name for name in file_text if name not in expected]
    dropped = [name for name in extra if name in allowed_extra]
    unexpected = [name for name in extra if name not in allowed_extra]
    bad = [f"{name}: {type(file_text[name]).__name__}" for name in expected
           if name in file_text and not isinstance(file_text[name], torch.Tensor)]
    bad += [f"{name}: file {list(file_text[name].shape)} vs tower {list(tensor.shape)}"
            for name, tensor in expected.items()
            if isinstance(file_text.get(name), torch.Tensor)
            and file_text[name].shape != tensor.shape]

    problems = []
    if missing:
        problems.append(f"missing {len(missing)} of {len(expected)} text tower keys "
                        f"(found {len(expected) - len(missing)}), e.g. "
                        f"{_examples([prefix + m for m in missing])}")
    if bad:
        problems.append(f"{len(bad)} keys with the wrong shape or type: {_examples(bad)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected text keys: "
                        f"{_examples([prefix + u for u in unexpected])}")
    if problems:
        others = [k for k in state if not k.startswith(prefix)]
        hint = (f"; the file has {len(state)} keys, {other_keys} outside {prefix!r}, e.g. "
                f"{_examples(others, 3)}" if others else "")
        raise ValueError(f"text tower weights from {source} refused (the release would keep a "
                         f"random tower here): " + "; ".join(problems) + hint)

    tower.load_state_dict({name: file_text[name] for name in expected}, strict=True)
    tower.reset_attn_mask()
    tower.weights_version += 1
    report = TextTowerLoadReport(
        loaded=tuple(expected), dropped=tuple(prefix + d for d in dropped),
        unwrapped=unwrapped, stripped_module_prefix=stripped, other_keys=other_keys)
    logger.info("text tower: loaded %d tensors from %s (unwrapped %s, module. stripped: %s, "
                "%d other keys ignored, dropped %s)", len(report.loaded), source,
                list(unwrapped), stripped, other_keys, list(report.dropped))
    return report
