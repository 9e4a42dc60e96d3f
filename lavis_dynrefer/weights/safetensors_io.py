"""DynRefer state dicts as safetensors files: our key names, tensors only, no pickle.

A safetensors file is a JSON header (names, dtypes, shapes, and a str -> str ``__metadata__``)
followed by raw tensor bytes, so reading one never runs code. It cannot hold two names on one
storage, while our state dicts do: the T5 embedding is listed as ``shared``, ``encoder.
embed_tokens`` and ``decoder.embed_tokens``. Writing keeps each storage once: an exact alias (same
storage, offset, shape, strides, dtype) is dropped and recorded in the metadata, any other overlap
is cloned. Reading restores the aliases as the same tensor, so a round trip gives back the state
dict the loaders already know (``checkpoint.load_dynrefer_checkpoint`` accepts ``.safetensors``).

Metadata (all strings): ``format`` ``"pt"``, ``arch``, ``model_type`` (when known), ``config``
(the runner checkpoint's config as JSON, whose ``model`` section the loader checks),
``dynrefer_aliases`` (alias name -> stored name, JSON).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lavis_dynrefer import names
from lavis_dynrefer.atomic_files import replaced_atomically
from lavis_dynrefer.weights.checkpoint_io import CheckpointError

if TYPE_CHECKING:
    from lavis_dynrefer.models.dynrefer import DynReferModel

logger = logging.getLogger(__name__)

SUFFIX = ".safetensors"
ALIASES_KEY = "dynrefer_aliases"


def is_safetensors_path(path: Any) -> bool:
    """Whether ``path`` (not a mapping) names a ``.safetensors`` file by its suffix."""
    return isinstance(path, (str, os.PathLike)) and str(path).endswith(SUFFIX)


def _safetensors_torch():
    try:
        import safetensors.torch
    except ImportError as err:  # pragma: no cover - a dependency of transformers
        raise CheckpointError("safetensors files need the 'safetensors' package "
                              "(pip install safetensors)") from err
    return safetensors.torch


def _same_view(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.stride() == b.stride()
            and a.dtype == b.dtype)


def store_each_storage_once(state: Mapping[str, Any], where: str
                            ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Split a state dict into tensors to write (no two on one storage) and aliases.

    Returns:
        (name -> contiguous CPU tensor, alias name -> stored name).

    Raises:
        CheckpointError: a value that is not a tensor, or a meta tensor (it has no values).
    """
    not_tensors = [f"{k}: {type(v).__name__}" for k, v in state.items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"{where}: not a state dict of tensors: {not_tensors[:5]} "
                              f"({len(not_tensors)} values are not tensors)")
    meta = [k for k, v in state.items() if v.is_meta]
    if meta:
        raise CheckpointError(f"{where}: {len(meta)} tensors are on the meta device (no values), "
                              f"e.g. {meta[:3]}; load their weights first")
    stored: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    owners: dict[tuple[torch.device, int], list[tuple[str, torch.Tensor]]] = {}
    for name, tensor in state.items():
        tensor = tensor.detach()
        if tensor.numel() == 0:
            stored[name] = tensor.cpu().clone()
            continue
        key = (tensor.device, tensor.untyped_storage().data_ptr())
        sharing = owners.setdefault(key, [])
        twin = next((n for n, t in sharing if _same_view(t, tensor)), None)
        if twin is not None:
            aliases[name] = twin
            continue
        # A second, different view of a storage (a slice, a transpose) gets its own copy.
        value = tensor.clone() if sharing else tensor
        sharing.append((name, tensor))
        stored[name] = value.cpu().contiguous()
    return stored, aliases


def _metadata(config: Mapping[str, Any] | None, model_type: str | None,
              aliases: Mapping[str, str]) -> dict[str, str]:
    model_cfg = config.get("model") if isinstance(config, Mapping) else None
    model_cfg = model_cfg if isinstance(model_cfg, Mapping) else {}
    metadata = {"format": "pt", "arch": str(model_cfg.get("arch", names.MODEL))}
    model_type = model_type or model_cfg.get("model_type")
    if model_type:
        metadata["model_type"] = str(model_type)
    if config is not None:
        metadata["config"] = json.dumps(config, default=str)
    if aliases:
        metadata[ALIASES_KEY] = json.dumps(dict(aliases))
    return metadata


def save_safetensors(state: Mapping[str, Any], path: str | os.PathLike, *,
                     config: Mapping[str, Any] | None = None,
                     model_type: str | None = None) -> Path:
    """Write a state dict (our names) to ``path`` atomically (temporary file, then rename).

    Args:
        state: name -> tensor, e.g. a runner checkpoint's ``model`` or ``model.state_dict()``.
        path: the ``.safetensors`` file.
        config: the run config (``{"model": {...}, ...}``) stored as JSON metadata, if known.
        model_type: stored as metadata (default: ``config["model"]["model_type"]``).

    Returns:
        The path written.
    """
    path = Path(path)
    stored, aliases = store_each_storage_once(state, str(path))
    metadata = _metadata(config, model_type, aliases)
    with replaced_atomically(path) as tmp:
        _safetensors_torch().save_file(stored, str(tmp), metadata=metadata)
    logger.info("wrote %d tensors (%d aliases) to %s", len(stored), len(aliases), path)
    return path


def model_config_dict(model: DynReferModel, model_type: str | None = None) -> dict[str, Any]:
    """``{"model": {...}}`` for a model: its typed config as the yaml ``model:`` section."""
    section = dataclasses.asdict(model.config)
    section = {"arch": names.MODEL, **({"model_type": model_type} if model_type else {}),
               **section}
    return {"model": section}


def save_model_safetensors(model: DynReferModel, path: str | os.PathLike,
                           model_type: str | None = None) -> Path:
    """Every parameter and buffer of ``model`` (``state_dict``) with its config as metadata."""
    return save_safetensors(model.state_dict(), path,
                            config=model_config_dict(model, model_type), model_type=model_type)


def read_safetensors(path: str | os.PathLike) -> dict[str, Any]:
    """A safetensors file written by ``save_safetensors`` (or any with our key names) as a
    runner-style checkpoint: ``{"model": state, "config": ...}`` (config when stored).

    Raises:
        CheckpointError: a missing file, or one that is not a valid safetensors file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such safetensors file")
    st = _safetensors_torch()
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
        state = st.load_file(str(path), device="cpu")
    except Exception as err:  # SafetensorError, OSError, header errors: all "unreadable"
        raise CheckpointError(f"{path}: not a valid safetensors file ({err})") from err
    try:
        aliases = json.loads(metadata.get(ALIASES_KEY, "{}"))
        config = json.loads(metadata["config"]) if "config" in metadata else None
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: unreadable metadata ({err})") from err
    for alias, stored in aliases.items():
        if stored not in state:
            raise CheckpointError(f"{path}: alias {alias!r} names {stored!r}, which the file "
                                  f"does not hold")
        state[alias] = state[stored]
    checkpoint: dict[str, Any] = {"model": state}
    if config is not None:
        checkpoint["config"] = config
    return checkpoint
