"""Rebuild a model as a checkpoint was trained: the config saved in a runner checkpoint over its
model type's yaml, the pretrained files that config names, then the checkpoint itself.

A runner checkpoint of a model with frozen towers lacks them (they come from ``model.weights``,
e.g. ``weights.towers``), and it carries the settings it was trained with (e.g. one view): the
benchmark, the recipe's export and ``weights.export --all-params`` all need the model back as it
was, from one reading of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import OmegaConf

from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.weights.checkpoint import load_opened_checkpoint
from lavis_dynrefer.weights.checkpoint_io import CheckpointError


def model_section(checkpoint: Any, model_type: str | None = None) -> dict[str, Any]:
    """The yaml ``model:`` section to build from, as LAVIS makes it: the model type's yaml
    (``model_type``, else the checkpoint's ``config.model.model_type``) with the checkpoint's
    ``config.model`` merged over it.

    Raises:
        CheckpointError: no model type given or saved, or an unknown one.
    """
    config = checkpoint.get("config") if isinstance(checkpoint, Mapping) else None
    section = config.get("model") if isinstance(config, Mapping) else None
    section = dict(section) if isinstance(section, Mapping) else {}
    model_type = model_type or section.get("model_type")
    if model_type is None:
        raise CheckpointError("the checkpoint has no 'config.model.model_type' (not a runner "
                              "checkpoint): name the model type (--model-type)")
    known = DynReferModel.PRETRAINED_MODEL_CONFIG_DICT
    if model_type not in known:
        raise CheckpointError(f"model type {model_type!r} is not one of {sorted(known)}")
    base = OmegaConf.load(DynReferModel.default_config_path(model_type)).model
    merged = OmegaConf.merge(base, {**section, "model_type": model_type})
    return OmegaConf.to_container(merged, resolve=True)


def rebuild_model(checkpoint: Any, source: str, model_type: str | None = None):
    """(model, its ``model:`` section): built from ``model_section``, its configured pretrained
    files loaded (``model.weights``), then ``checkpoint`` (read from ``source`` by
    ``read_checkpoint``) on top with the loader its keys call for.

    Raises:
        CheckpointError: as ``model_section``, or the checkpoint does not fit the model.
    """
    section = model_section(checkpoint, model_type)
    model = DynReferModel.from_config(OmegaConf.create(section))
    load_opened_checkpoint(model, checkpoint, source)
    return model, section
