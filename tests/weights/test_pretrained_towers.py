"""Loading the ViT a tower pre-training run of ours trained (``model.weights.towers``)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.weights.checkpoint import load_pretrained_towers
from lavis_dynrefer.weights.checkpoint_io import CheckpointError


def _tiny(seed: int, **changes) -> DynReferModel:
    cfg = OmegaConf.load(DynReferModel.default_config_path("tiny")).model
    cfg.frozen = ["vision"]
    for key, value in changes.items():
        OmegaConf.update(cfg, key, value)
    torch.manual_seed(seed)
    return DynReferModel.from_config(cfg)


def _stage1_file(tmp_path, model: DynReferModel, extra: dict | None = None):
    state = {k: v for k, v in model.state_dict().items() if k.startswith("vision.")}
    state.update({"head.0.weight": torch.zeros(2, 2), **(extra or {})})
    path = tmp_path / "towers.pth"
    torch.save({"model": state, "config": {"model": {"arch": "dynrefer_shapes_towers"}}}, path)
    return path


def test_the_vit_is_loaded_and_the_head_skipped(tmp_path):
    source, target = _tiny(1), _tiny(2)
    report = load_pretrained_towers(target, _stage1_file(tmp_path, source))
    for name, value in source.vision.state_dict().items():
        torch.testing.assert_close(target.vision.state_dict()[name], value)
    assert report.dropped == ["head.0.weight"] and not report.missing
    assert len(report.loaded) == len(list(source.vision.parameters()))
    assert target.vision.locked  # still frozen: stage 2 trains around it


def test_yaml_key_loads_it_when_the_model_is_built(tmp_path):
    source = _tiny(1)
    path = _stage1_file(tmp_path, source)
    built = _tiny(3, **{"weights.towers": str(path)})
    torch.testing.assert_close(built.vision.vit.pos_embed, source.vision.vit.pos_embed)


def test_missing_and_foreign_keys_are_refused(tmp_path):
    source, target = _tiny(1), _tiny(2)
    before = target.vision.vit.pos_embed.clone()
    state = {k: v for k, v in source.state_dict().items() if k.startswith("vision.")}
    del state["vision.vit.pos_embed"]
    torch.save({"model": state}, tmp_path / "short.pth")
    with pytest.raises(CheckpointError, match="vision.vit.pos_embed"):
        load_pretrained_towers(target, tmp_path / "short.pth")
    path = _stage1_file(tmp_path, source, {"language.memory": torch.zeros(3)})
    with pytest.raises(CheckpointError, match="language.memory"):
        load_pretrained_towers(target, path)
    torch.testing.assert_close(target.vision.vit.pos_embed, before)  # unchanged
