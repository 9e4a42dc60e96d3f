"""LAVIS's own weight keys of a model section (``finetuned``, ``pretrained``, ``load_*``) load
their files through the key-checked loaders of ``model.weights``, or fail naming the key; a
section written the LAVIS way never silently keeps random weights."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

import lavis_dynrefer
from lavis_dynrefer.models.config import ConfigError, DynReferConfig
from lavis_dynrefer.paths import config_path
from lavis_dynrefer.weights.checkpoint_io import CheckpointError


def weights_of(section: dict) -> dict:
    config = DynReferConfig.from_mapping(section)
    w = config.weights
    return {k: getattr(w, k) for k in ("blip2", "checkpoint") if getattr(w, k)}


@pytest.mark.parametrize("section, expected", [
    ({"finetuned": "a.pth"}, {"checkpoint": "a.pth"}),
    ({"finetuned": "a.pth", "load_finetuned": True}, {"checkpoint": "a.pth"}),
    ({"finetuned": "a.pth", "load_finetuned": False}, {}),
    ({"pretrained": "b.pth"}, {"blip2": "b.pth"}),
    ({"pretrained": "b.pth", "load_pretrained": False}, {}),
    # LAVIS loads pretrained only when it loads no finetuned file.
    ({"finetuned": "a.pth", "pretrained": "b.pth"}, {"checkpoint": "a.pth"}),
    ({"finetuned": "a.pth", "load_finetuned": False, "pretrained": "b.pth"}, {"blip2": "b.pth"}),
    ({"finetuned": "a.pth", "weights": {"checkpoint": "a.pth"}}, {"checkpoint": "a.pth"}),
    ({"load_pretrained": False}, {}),
])
def test_lavis_keys_become_weights(section, expected):
    assert weights_of(section) == expected


@pytest.mark.parametrize("section, message", [
    ({"load_finetuned": True}, r"model\.load_finetuned is true but model\.finetuned names no "
                               r"file: name it there or in model\.weights\.checkpoint"),
    ({"load_pretrained": True}, r"model\.load_pretrained is true but model\.pretrained"),
    ({"finetuned": "a.pth", "weights": {"checkpoint": "b.pth"}},
     r"model\.finetuned \(a\.pth\) and model\.weights\.checkpoint \(b\.pth\) name two files"),
    ({"load_finetuned": "yes", "finetuned": "a.pth"},
     r"model\.load_finetuned: expected true or false, got 'yes'"),
])
def test_lavis_keys_that_cannot_be_honoured_are_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        DynReferConfig.from_mapping(section)


def _tiny_section(**changes):
    section = OmegaConf.load(config_path("models/dynrefer_tiny.yaml")).model
    return OmegaConf.merge(section, changes)


def test_finetuned_file_is_loaded_and_a_missing_one_named(tmp_path):
    torch.manual_seed(0)
    model = lavis_dynrefer.DynReferModel.from_config(_tiny_section())
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    torch.save({"model": trainable, "epoch": 0}, tmp_path / "checkpoint_best.pth")
    torch.manual_seed(123)  # another random init: only the file can make them equal
    loaded = lavis_dynrefer.DynReferModel.from_config(_tiny_section(
        finetuned=str(tmp_path / "checkpoint_best.pth"), load_finetuned=True))
    params = dict(loaded.named_parameters())
    assert all(torch.equal(params[n], v) for n, v in trainable.items())
    with pytest.raises(FileNotFoundError, match=r"model\.weights\.checkpoint: .*missing\.pth"):
        lavis_dynrefer.DynReferModel.from_config(
            _tiny_section(finetuned=str(tmp_path / "missing.pth")))


def test_a_url_is_refused_not_downloaded():
    url = "https://storage.googleapis.com/sfr-vision-language-research/LAVIS/models/BLIP2/" \
          "blip2_pretrained_flant5xl.pth"  # the release yaml's `pretrained`
    with pytest.raises(CheckpointError, match=r"model\.weights\.blip2: https://\S+ is a URL: "
                                              r"nothing is downloaded"):
        lavis_dynrefer.DynReferModel.from_config(_tiny_section(pretrained=url))
