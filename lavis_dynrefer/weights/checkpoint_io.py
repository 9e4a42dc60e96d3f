"""The mechanics under the checkpoint loaders: safe reading, validation, and copying into a model.

``load_state`` checks a whole state dict against the model before it changes anything (every
required key present, no unexpected key, every shape equal), then copies. Parameters still on the
``meta`` device are replaced by new parameters holding the values (so a model built with
``build_dynrefer(..., meta=True)`` is filled tower by tower, without allocating the whole model
first); materialised parameters are copied into in place. Buffers are never touched.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from lavis_dynrefer.models.text_tower import _examples as examples  # one key-list formatter
from lavis_dynrefer.weights.checkpoint_mapping import POSITION_IDS, T5_EMBED_ALIASES, T5_SHARED

if TYPE_CHECKING:
    from lavis_dynrefer.models.dynrefer import DynReferModel

logger = logging.getLogger(__name__)

Source = str | PathLike | Mapping[str, Any]
# Attribute set on ``model.language.t5`` once pretrained weights were loaded into it (the source);
# the LLM alias check compares against the model's T5 only then.
T5_SOURCE_ATTR = "weights_source"
# bf16 copies (the release's T5 aliases) of fp32 values differ by up to 2**-8 relative.
ALIAS_RTOL, ALIAS_ATOL = 1e-2, 1e-3


class CheckpointError(ValueError):
    """A checkpoint was refused; nothing was loaded into the model."""


@dataclass
class LoadReport:
    """What a loader did.

    Attributes:
        kind: the layout (``release``, ``blip2``, ``eva_vit``, ``flan_t5``, ``text``,
            ``dynrefer``).
        source: the file, folder or "a state dict".
        loaded: our names of the parameters that now hold the file's values.
        missing: our names the layout may hold but the file did not (only where that is
            legitimate, e.g. frozen towers absent from a runner checkpoint).
        unexpected: file keys that were ignored (only when the loader was told to ignore them).
        dropped: file keys that are not weights (buffers, tied aliases), checked and skipped.
        notes: anything else worth knowing (checks skipped, parameters still on meta).
    """

    kind: str
    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few readable lines: counts, examples of every list, then the notes."""
        lines = [f"{self.kind} checkpoint {self.source}: loaded {len(self.loaded)} tensors"]
        for label, names in (("dropped", self.dropped), ("missing", self.missing),
                             ("unexpected (ignored)", self.unexpected)):
            if names:
                lines.append(f"  {label}: {len(names)}, {examples(names)}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def merge(self, other: LoadReport) -> LoadReport:
        """Append another report's lists (for multi-part loads)."""
        for name in ("loaded", "missing", "unexpected", "dropped", "notes"):
            getattr(self, name).extend(getattr(other, name))
        return self


def read_checkpoint(path: str | PathLike) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``.

    Raises:
        CheckpointError: the file holds objects other than tensors, numbers, strings and
            containers (a pickle that would run code); it is not unpickled.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} refused: it holds pickled objects other than tensors and plain containers "
            f"(torch.load weights_only=True failed: {str(err).splitlines()[-1]})") from err
    except FileNotFoundError:
        raise
    except (RuntimeError, OSError, EOFError, KeyError, ValueError) as err:
        # An empty, cut-off or non-torch file surfaces as any of these, none naming the file.
        raise CheckpointError(f"{path} is not a readable torch checkpoint (empty, truncated or "
                              f"another format): {type(err).__name__}: {err}") from err


def open_source(source: Source) -> tuple[Any, str, bool]:
    """(loaded object, its description, whether its tensors are ours to keep without copying)."""
    if isinstance(source, Mapping):
        return source, "a state dict", False
    text = str(source)
    if text.startswith(("http://", "https://")):
        raise CheckpointError(f"{text} is a URL: nothing is downloaded here, download it and "
                              f"pass the local file")
    return read_checkpoint(source), text, True


def model_state(checkpoint: Any, where: str) -> Mapping[str, Any]:
    """``checkpoint.get("model", checkpoint)``, checked to be a mapping of names."""
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("model"), Mapping):
        checkpoint = checkpoint["model"]
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{where}: expected a state dict, got {type(checkpoint).__name__}")
    return checkpoint


def load_state(model: DynReferModel, file_state: Mapping[str, Any], *, kind: str, source: str,
               rename: Callable[[str], str | None], required: Collection[str],
               optional: Collection[str] = (), owned: bool = False, strict: bool = True,
               check_llm_alias: bool = True,
               file_name: Callable[[str], str | None] | None = None) -> LoadReport:
    """Validate ``file_state`` against the model, then copy it in.

    Args:
        model: the model; parameters may be on meta.
        file_state: file key -> tensor.
        kind, source: for the report and messages.
        rename: file key -> our name (None: the key is not ours, so unexpected).
        required: our parameter names the file must hold.
        optional: our parameter names the file may hold (reported as missing when absent).
        owned: the tensors may become parameters without a copy (we read the file ourselves).
        strict: refuse unexpected keys and missing required ones; otherwise report them.
        check_llm_alias: compare T5 embedding aliases with the T5's embedding (see
            ``check_non_parameter``).
        file_name: our name -> the file's, to name missing keys as the file would.

    Raises:
        CheckpointError: naming the offending keys; the model is unchanged.
    """
    report = LoadReport(kind, source)
    params = dict(model.named_parameters())
    required, allowed = set(required), set(required) | set(optional)
    renamed: dict[str, tuple[str, Any]] = {}
    for key, value in file_state.items():
        ours = rename(key)
        if ours is None or not (ours in allowed or ours in (POSITION_IDS, *T5_EMBED_ALIASES)):
            report.unexpected.append(key)
        else:
            renamed[ours] = (key, value)
    problems = []
    for ours in (POSITION_IDS, *T5_EMBED_ALIASES):
        if ours in renamed:
            key, value = renamed.pop(ours)
            report.dropped.append(key)
            note = check_non_parameter(model, ours, key, value, renamed, check_llm_alias)
            if note:
                report.notes.append(note)
    absent = [n for n in params if n in allowed and n not in renamed]
    lacking = [n for n in absent if n in required]
    report.missing = absent
    bad = [f"{key}: {type(value).__name__}" for key, value in renamed.values()
           if not isinstance(value, torch.Tensor)]
    bad += [f"{key}: file {list(value.shape)} vs model {list(params[ours].shape)} ({ours})"
            for ours, (key, value) in renamed.items()
            if isinstance(value, torch.Tensor) and value.shape != params[ours].shape]
    bad += [f"{key}: a meta tensor cannot fill the materialised {ours}"
            for ours, (key, value) in renamed.items()
            if isinstance(value, torch.Tensor) and value.is_meta and not params[ours].is_meta]
    if bad:
        problems.append(f"{len(bad)} tensors of the wrong shape or type: {examples(bad)}")
    if strict and lacking:
        theirs = f" (ours: {examples(lacking, 2)})" if file_name else ""
        problems.append(f"missing {len(lacking)} of {len(required)} required tensors: "
                        f"{examples([file_name(n) for n in lacking] if file_name else lacking)}"
                        f"{theirs}")
    if strict and report.unexpected:
        problems.append(f"{len(report.unexpected)} unexpected keys: "
                        f"{examples(report.unexpected)}")
    if problems:
        raise CheckpointError(f"{kind} checkpoint {source} refused: " + "; ".join(problems))

    assign(model, {ours: value for ours, (_, value) in renamed.items()}, owned=owned)
    report.loaded = list(renamed)
    after_load(model, report)
    return report


def check_non_parameter(model: DynReferModel, ours: str, key: str, value: Any,
                        renamed: Mapping[str, tuple[str, Any]], check_llm_alias: bool) -> str:
    """Check one dropped key; returns a note ("" when fully checked).

    ``position_ids`` must be ``arange``. A T5 embedding alias must equal the file's own
    ``shared`` weight when the file has it, else the model's T5 embedding when pretrained T5
    weights were loaded (``load_flan_t5``); a mismatch means the checkpoint was trained with
    another language model and is refused (``check_llm_alias=False`` skips this).

    Raises:
        CheckpointError: the value contradicts the model.
    """
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"{key}: expected a tensor, got {type(value).__name__}")
    if ours == POSITION_IDS:
        if value.is_meta:
            return f"{key}: not compared with arange (meta tensor)"
        if not torch.equal(value.flatten().long(), torch.arange(value.numel())):
            raise CheckpointError(f"{key} is not arange({value.numel()}): not a Q-Former file")
        return ""
    if not check_llm_alias:
        return f"{key}: LLM identity not checked (check_llm_alias=False)"
    shared = dict(model.named_parameters())[T5_SHARED]
    if value.shape != shared.shape:
        raise CheckpointError(f"{key} has shape {list(value.shape)} but the model's T5 embedding "
                              f"is {list(shared.shape)}: the checkpoint belongs to another LLM")
    reference = renamed.get(T5_SHARED, (None, None))[1]
    if reference is None:
        if shared.is_meta or getattr(model.language.t5, T5_SOURCE_ATTR, None) is None:
            return (f"{key}: LLM identity not checked (the model's T5 weights are not loaded; "
                    f"load_flan_t5 first to check it)")
        reference = shared
    if value.is_meta or reference.is_meta:
        return f"{key}: LLM identity not checked (meta tensor)"
    close = torch.allclose(value.float(), reference.detach().to(value.dtype).float(),
                           rtol=ALIAS_RTOL, atol=ALIAS_ATOL)
    if not close:
        raise CheckpointError(
            f"{key} (a copy of the LLM's input embedding) differs from the T5 embedding "
            f"{'in the file' if reference is not shared else 'of the model'}: the checkpoint "
            f"was trained with another language model (pass check_llm_alias=False to load it "
            f"anyway)")
    return ""


def target_device(model: nn.Module) -> torch.device:
    """Where meta parameters are materialised: the first real parameter's device, else CPU."""
    return next((p.device for p in model.parameters() if not p.is_meta), torch.device("cpu"))


def assign(model: nn.Module, values: Mapping[str, torch.Tensor], owned: bool) -> None:
    """Copy values into parameters; meta parameters are replaced (everywhere they are shared)."""
    params = dict(model.named_parameters(remove_duplicate=False))
    holders: dict[int, list[tuple[nn.Module, str]]] = {}
    for module in model.modules():
        for name, param in module._parameters.items():
            if param is not None:
                holders.setdefault(id(param), []).append((module, name))
    device = target_device(model)
    with torch.no_grad():
        for name, value in values.items():
            param = params[name]
            if not param.is_meta:
                param.copy_(value)
                continue
            # A meta value (a dry run checking names and shapes at full size) stays on meta.
            data = value.detach().to(device=value.device if value.is_meta else device,
                                     dtype=param.dtype)
            if data is value and not owned:
                data = data.clone()
            new = nn.Parameter(data, requires_grad=param.requires_grad)
            for module, attr in holders[id(param)]:
                module._parameters[attr] = new


def after_load(model: DynReferModel, report: LoadReport) -> None:
    """Side effects of new weights: text tables go stale, the T5 remembers its source; notes."""
    loaded = set(report.loaded)
    if any(n.startswith("text_tower.") for n in loaded):
        model.text_tower.weights_version += 1  # cached text tables are recomputed on next use
    t5_names = [n for n, _ in model.named_parameters() if n.startswith("language.t5.model.")]
    if t5_names and all(n in loaded for n in t5_names):
        setattr(model.language.t5, T5_SOURCE_ATTR, report.source)
    still_meta = [n for n, p in model.named_parameters() if p.is_meta]
    if still_meta:
        report.notes.append(f"{len(still_meta)} parameters are still on meta (load their "
                            f"sources too): {examples(still_meta, 3)}")
