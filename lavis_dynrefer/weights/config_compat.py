"""Does a checkpoint's recorded model config build the same network as a model's config?

Key names and weight shapes catch most mismatches, but not all: a different number of attention
heads, a different RoI size or Q-Former cross-attention layout keep every tensor's shape and
silently compute something else. Our checkpoints record the LAVIS ``config`` (runner files and
safetensors exports both), so the loader compares the architecture fields here.

Not compared (they do not change what the weights mean): numeric precision, the alignment
backend, drop-path, tokenizer/vocabulary paths (a different vocabulary size shows in shapes),
caption length, control-word sampling, and how untrained weights are initialised.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from omegaconf import OmegaConf

from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.typed_config import ConfigError

logger = logging.getLogger(__name__)

#: The stage sections that define the network.
STAGES = ("vision", "region", "resampler", "heads", "text", "language")

#: ``stage.field`` entries that do not change what the weights compute.
NOT_ARCHITECTURE = frozenset({
    "vision.precision", "vision.drop_path_rate", "region.align_backend",
    "language.precision", "language.tokenizer", "language.vocab_file", "language.max_txt_len",
    "language.control_drop_all_p", "language.control_keep_p",
    "vision.position_init", "region.align_init", "language.lm_head_init_std",
})


def recorded_config(model_section: Mapping[str, Any],
                    model_types: Mapping[str, str]) -> DynReferConfig | None:
    """The ``DynReferConfig`` a checkpoint's ``config.model`` section describes.

    As LAVIS does when it builds a model, the section is merged over its ``model_type``'s
    default yaml (``model_types``: type -> yaml path); without a known type the dataclass
    defaults (the paper's configuration) fill the rest. None (logged) when the section cannot
    be read as a config, e.g. one written by another version.
    """
    section = OmegaConf.create(dict(model_section))
    model_type = section.get("model_type")
    if model_type in model_types:
        section = OmegaConf.merge(OmegaConf.load(model_types[model_type]).model, section)
    try:
        return DynReferConfig.from_mapping(section, where="config.model")
    except ConfigError as err:
        logger.warning("the checkpoint's config.model cannot be compared with the model's: %s",
                       err)
        return None


def architecture_differences(recorded: DynReferConfig, current: DynReferConfig) -> list[str]:
    """``"vision.heads: 4 in the checkpoint, 2 in the model"`` for every architecture field
    that differs (``NOT_ARCHITECTURE`` excepted), in field order."""
    differences = []
    for stage in STAGES:
        ours, theirs = getattr(current, stage), getattr(recorded, stage)
        for field in dataclasses.fields(ours):
            key = f"{stage}.{field.name}"
            mine, file = getattr(ours, field.name), getattr(theirs, field.name)
            if key not in NOT_ARCHITECTURE and mine != file:
                differences.append(f"{key}: {file!r} in the checkpoint, {mine!r} in the model")
    return differences
