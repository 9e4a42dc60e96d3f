"""The ``release`` model type: the authors' weights set up as their demo describes regions."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

import lavis_dynrefer  # noqa: F401  (registers the model with LAVIS)
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.dynrefer import DynReferModel

# callsys/DynRefer demo/demo_dynrefer.yaml, model section (do_sample False; top_p and
# temperature are ignored without sampling).
RELEASE_DEMO = {"tag_thr": 0.76, "num_beams": 5, "max_new_tokens": 30, "min_length": 1,
                "length_penalty": 0, "repetition_penalty": 1.5}


def test_release_type_has_the_release_demo_settings():
    section = OmegaConf.load(DynReferModel.default_config_path("release")).model
    config = DynReferConfig.from_mapping(section)
    generation = config.generation
    assert config.tag_threshold == RELEASE_DEMO["tag_thr"]
    assert (generation.num_beams, generation.max_new_tokens, generation.min_length,
            generation.length_penalty, generation.repetition_penalty) == (
        RELEASE_DEMO["num_beams"], RELEASE_DEMO["max_new_tokens"], RELEASE_DEMO["min_length"],
        RELEASE_DEMO["length_penalty"], RELEASE_DEMO["repetition_penalty"])
    # The release's numerics and the paper's architecture.
    assert config.head_precision == "bf16" and config.attribute_score == "release"
    assert config == DynReferConfig.from_mapping(
        {**OmegaConf.to_container(OmegaConf.load(
            DynReferModel.default_config_path("flant5xl")).model),
         "model_type": "release", "tag_list": section.tag_list, "tag_threshold": 0.76,
         "language": {"tokenizer": section.language.tokenizer},
         "generation": OmegaConf.to_container(section.generation),
         "weights": OmegaConf.to_container(section.weights)})


def test_release_type_without_the_files_names_the_missing_one(tmp_path, monkeypatch):
    from lavis.models import load_model_and_preprocess

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="weights/ram_tag_list.txt"):
        load_model_and_preprocess("dynrefer", "release", is_eval=True, device="cpu")
