"""Checkpoints whose recorded config builds another network with the same weight shapes."""

from __future__ import annotations

import dataclasses

import pytest
from checkpoint_sources import runner_checkpoint, tiny_config, tiny_model

from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.weights.checkpoint import load_any_checkpoint
from lavis_dynrefer.weights.checkpoint_io import CheckpointError
from lavis_dynrefer.weights.config_compat import architecture_differences, recorded_config

TYPES = DynReferModel.PRETRAINED_MODEL_CONFIG_DICT


def _with_section(model: DynReferModel, section: dict) -> dict:
    checkpoint = runner_checkpoint(model)
    checkpoint["config"] = {"model": section}
    return checkpoint


def test_partial_section_is_read_over_its_model_type():
    # LAVIS merges the model_type's yaml under the section: a tiny file that names only one
    # field is the tiny config with that field, not the paper's defaults.
    recorded = recorded_config({"arch": "dynrefer", "model_type": "tiny",
                                "resampler": {"heads": 2}}, TYPES)
    expected = tiny_config()
    expected = dataclasses.replace(expected,
                                   resampler=dataclasses.replace(expected.resampler, heads=2))
    assert recorded == expected
    assert architecture_differences(recorded, tiny_config()) == [
        "resampler.heads: 2 in the checkpoint, 4 in the model"]


def test_same_shapes_other_heads_are_refused_naming_the_fields():
    config = tiny_config()
    other = dataclasses.replace(
        config, resampler=dataclasses.replace(config.resampler, heads=2),
        region=dataclasses.replace(config.region, roi_size=config.region.roi_size + 2))
    trained = build_dynrefer(other)
    # Every weight has the model's shape: only the recorded config tells them apart.
    assert {k: v.shape for k, v in trained.state_dict().items()} == {
        k: v.shape for k, v in tiny_model(seed=1).state_dict().items()}
    checkpoint = _with_section(trained, {"arch": "dynrefer", "model_type": "tiny",
                                         "resampler": {"heads": 2},
                                         "region": {"roi_size": other.region.roi_size}})
    with pytest.raises(CheckpointError) as info:
        load_any_checkpoint(tiny_model(seed=1), checkpoint)
    message = str(info.value)
    assert (f"region.roi_size: {other.region.roi_size} in the checkpoint, "
            f"{config.region.roi_size} in the model; "
            "resampler.heads: 2 in the checkpoint, 4 in the model") in message


def test_differences_that_do_not_change_the_network_are_accepted():
    model = tiny_model(seed=2)
    checkpoint = _with_section(model, {"arch": "dynrefer", "model_type": "tiny",
                                       "language": {"max_txt_len": 16, "precision": "bf16"},
                                       "vision": {"precision": "fp16"},
                                       "generation": {"num_beams": 1}, "tag_threshold": 0.3})
    assert load_any_checkpoint(tiny_model(seed=3), checkpoint).loaded


def test_unreadable_section_is_not_compared(caplog):
    model = tiny_model(seed=2)
    checkpoint = _with_section(model, {"arch": "dynrefer", "model_type": "tiny",
                                       "from_the_future": 1})
    assert load_any_checkpoint(tiny_model(seed=3), checkpoint).loaded
    assert "cannot be compared" in caplog.text
