"""Out-of-range numbers in the model config fail naming the key and the value.

From yaml (``DynReferConfig.from_mapping``) the message names the full key, e.g.
``model.region_chunk: must be >= 1, got 0``; built in Python it names the dataclass field.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from omegaconf import OmegaConf

from lavis_dynrefer.models.config import (
    DynReferConfig,
    GenerationConfig,
    LanguageConfig,
    OutOfRange,
    RegionConfig,
    ResamplerConfig,
    VisionConfig,
)
from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.typed_config import ConfigError


def _tiny_section() -> dict:
    return OmegaConf.to_container(OmegaConf.load(DynReferModel.default_config_path("tiny")).model)


def _set(section: dict, path: tuple[str, ...], value: object) -> dict:
    target = section
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return section


@pytest.mark.parametrize(("path", "value", "message"), [
    (("region_chunk",), 0, "model.region_chunk: must be >= 1, got 0"),
    (("region_chunk",), -3, "model.region_chunk: must be >= 1, got -3"),
    (("tag_threshold",), 0.0, "model.tag_threshold: must be in (0, 1), got 0.0"),
    (("tag_threshold",), 1.0, "model.tag_threshold: must be in (0, 1), got 1.0"),
    (("tag_threshold",), 7, "model.tag_threshold: must be in (0, 1), got 7.0"),
    (("loss_weight_tag",), -0.01, "model.loss_weight_tag: must be >= 0, got -0.01"),
    (("loss_weight_lm",), math.inf, "model.loss_weight_lm: must be >= 0, got inf"),
    (("loss_weight_rtc",), math.nan, "model.loss_weight_rtc: must be >= 0, got nan"),
    (("vision", "image_size"), 0, "model.vision.image_size: must be >= 1, got 0"),
    (("vision", "mlp_ratio"), 0.0, "model.vision.mlp_ratio: must be > 0, got 0.0"),
    (("vision", "drop_path_rate"), 1.0, "model.vision.drop_path_rate: must be in [0, 1), got 1.0"),
    (("region", "num_views"), 0, "model.region.num_views: must be >= 1, got 0"),
    (("region", "roi_size"), 0, "model.region.roi_size: must be >= 1, got 0"),
    (("resampler", "num_queries"), 0, "model.resampler.num_queries: must be >= 1, got 0"),
    (("resampler", "cross_attention_freq"), 0,
     "model.resampler.cross_attention_freq: must be >= 1, got 0"),
    (("heads", "layers"), 0, "model.heads.layers: must be >= 1, got 0"),
    (("language", "max_txt_len"), 0, "model.language.max_txt_len: must be >= 1, got 0"),
    (("language", "control_keep_p"), 1.5, "model.language.control_keep_p: must be in [0, 1], "
                                          "got 1.5"),
    (("generation", "num_beams"), 0, "model.generation.num_beams: must be >= 1, got 0"),
    (("generation", "min_length"), -1, "model.generation.min_length: must be >= 0, got -1"),
    (("generation", "repetition_penalty"), 0.0,
     "model.generation.repetition_penalty: must be > 0, got 0.0"),
])
def test_yaml_value_out_of_range_names_the_full_key(path, value, message):
    section = _set(_tiny_section(), path, value)
    with pytest.raises(ConfigError) as info:
        DynReferConfig.from_mapping(section)
    assert str(info.value) == message


@pytest.mark.parametrize(("build", "message"), [
    (lambda: DynReferConfig(region_chunk=0), "DynReferConfig.region_chunk: must be >= 1, got 0"),
    (lambda: DynReferConfig().replace(tag_threshold=1.0),
     "DynReferConfig.tag_threshold: must be in (0, 1), got 1.0"),
    (lambda: VisionConfig(patch_size=0), "VisionConfig.patch_size: must be >= 1, got 0"),
    (lambda: RegionConfig(align_groups=0), "RegionConfig.align_groups: must be >= 1, got 0"),
    (lambda: ResamplerConfig(heads=0), "ResamplerConfig.heads: must be >= 1, got 0"),
    (lambda: LanguageConfig(control_drop_all_p=-0.1),
     "LanguageConfig.control_drop_all_p: must be in [0, 1], got -0.1"),
    (lambda: GenerationConfig(max_new_tokens=0),
     "GenerationConfig.max_new_tokens: must be >= 1, got 0"),
])
def test_python_construction_is_checked_too(build, message):
    with pytest.raises(OutOfRange) as info:
        build()
    assert str(info.value) == message
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize(("path", "value"), [
    (("region_chunk",), 1),
    (("tag_threshold",), 0.99),
    (("loss_weight_tag",), 0.0),  # switching a loss off is allowed
    (("region", "roi_sampling_ratio"), 0),  # torchvision: adaptive sampling
    (("generation", "length_penalty"), -1.0),
    (("generation", "min_length"), 0),
    (("language", "control_drop_all_p"), 1.0),
    (("vision", "drop_path_rate"), 0.0),
])
def test_edge_values_inside_the_range_are_accepted(path, value):
    config = DynReferConfig.from_mapping(_set(_tiny_section(), path, value))
    stage = config
    for key in path[:-1]:
        stage = getattr(stage, key)
    assert getattr(stage, path[-1]) == value


@pytest.mark.parametrize("model_type", sorted(DynReferModel.PRETRAINED_MODEL_CONFIG_DICT))
def test_shipped_model_configs_are_in_range(model_type):
    section = OmegaConf.load(DynReferModel.default_config_path(model_type)).model
    config = DynReferConfig.from_mapping(section)
    assert config.region_chunk >= 1 and 0 < config.tag_threshold < 1


def test_other_mistakes_keep_their_messages():
    # Range checks do not mask the type check or a misspelling, which come first.
    with pytest.raises(ConfigError, match=r"^model\.region_chunk: expected int, got '0' \(str\)"):
        DynReferConfig.from_mapping({"region_chunk": "0"})
    with pytest.raises(ConfigError, match=r"^model\.text: width must be positive, got 0"):
        DynReferConfig.from_mapping({"text": {"width": 0}})
    assert dataclasses.replace(DynReferConfig(), region_chunk=2).region_chunk == 2


@pytest.mark.parametrize(("legacy", "frozen"), [
    ({"train_towers": True}, ()),
    ({"train_towers": False}, DynReferConfig().frozen),
    ({"train_towers": True, "frozen": ["vision"]}, ("vision",)),
])
def test_checkpoints_from_before_frozen_still_read(legacy, frozen):
    # Configs recorded before ``frozen`` replaced ``train_towers`` (e.g. the first shapes model).
    assert DynReferConfig.from_mapping(legacy).frozen == frozen
