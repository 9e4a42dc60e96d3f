"""Safetensors export and import of DynRefer checkpoints, and what the loaders refuse."""

from __future__ import annotations

import json
import re

import pytest
import torch
from checkpoint_sources import predict, randomize, runner_checkpoint, tiny_config, tiny_model
from omegaconf import OmegaConf
from safetensors import safe_open

from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.weights import export
from lavis_dynrefer.weights.checkpoint import (
    CheckpointError,
    load_any_checkpoint,
    load_dynrefer_checkpoint,
)
from lavis_dynrefer.weights.safetensors_io import (
    ALIASES_KEY,
    read_safetensors,
    save_model_safetensors,
    save_safetensors,
    store_each_storage_once,
)


@pytest.fixture(scope="module")
def trained():
    """Tiny model, seed-7 frozen towers, other trainable values (as after training)."""
    return randomize(tiny_model(seed=7), seed=8, trainable_only=True)


@pytest.fixture(scope="module")
def trained_predictions(trained):
    return predict(trained)


@pytest.fixture(scope="module")
def runner_file(trained, tmp_path_factory):
    path = tmp_path_factory.mktemp("runner") / "checkpoint_4.pth"
    torch.save(runner_checkpoint(trained), path)
    return path


def _metadata(path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata()


def test_export_command_round_trip(runner_file, trained, trained_predictions, tmp_path):
    out = tmp_path / "model.safetensors"
    assert export.main(["--checkpoint", str(runner_file), "--out", str(out)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary file
    metadata = _metadata(out)
    assert metadata["format"] == "pt" and metadata["model_type"] == "tiny"
    assert json.loads(metadata["config"])["model"]["arch"] == "dynrefer"
    # The T5 embedding's two state-dict aliases are stored once.
    assert json.loads(metadata[ALIASES_KEY]) == {
        "language.t5.model.decoder.embed_tokens.weight":
            "language.t5.model.encoder.embed_tokens.weight"}
    fresh = tiny_model(seed=7)  # the same frozen towers, other trainable values
    assert not torch.equal(fresh.language.memory, trained.language.memory)
    report = load_dynrefer_checkpoint(fresh, out)
    assert len(report.loaded) == len(fresh.trainable_parameter_names())
    assert predict(fresh) == trained_predictions


def test_export_all_params_restores_frozen_towers(runner_file, trained_predictions, tmp_path):
    out = tmp_path / "full.safetensors"
    torch.manual_seed(7)  # the build inside the command draws the same towers as tiny_model(7)
    assert export.main(["--checkpoint", str(runner_file), "--out", str(out),
                        "--all-params"]) == 0
    fresh = tiny_model(seed=99)  # other frozen towers too
    report = load_dynrefer_checkpoint(fresh, out)
    assert not report.missing
    assert predict(fresh) == trained_predictions


def test_model_export_carries_its_config_and_every_tensor(trained, trained_predictions,
                                                          tmp_path):
    out = save_model_safetensors(trained, tmp_path / "m.safetensors", model_type="tiny")
    checkpoint = read_safetensors(out)
    assert DynReferConfig.from_mapping(checkpoint["config"]["model"]) == trained.config
    assert checkpoint["model"].keys() == trained.state_dict().keys()
    shared = checkpoint["model"]["language.t5.model.shared.weight"]
    assert checkpoint["model"]["language.t5.model.encoder.embed_tokens.weight"] is shared
    model = tiny_model(seed=3)
    assert load_any_checkpoint(model, out).kind == "dynrefer"
    assert predict(model) == trained_predictions


def test_shared_storage_is_stored_once_or_cloned(tmp_path):
    base = torch.arange(16.0).reshape(4, 4)
    state = {"a": base, "alias": base, "rows": base[1:], "transposed": base.t(),
             "empty": torch.zeros(0)}
    stored, aliases = store_each_storage_once(state, "test")
    assert aliases == {"alias": "a"}
    assert stored["rows"].untyped_storage().data_ptr() != base.untyped_storage().data_ptr()
    path = save_safetensors(state, tmp_path / "s.safetensors")
    loaded = read_safetensors(path)["model"]
    assert loaded["alias"] is loaded["a"]
    for name, value in state.items():
        torch.testing.assert_close(loaded[name], value, rtol=0, atol=0)


def test_other_architecture_is_refused_naming_shapes(tmp_path):
    cfg = OmegaConf.load(DynReferModel.default_config_path("tiny")).model
    cfg.resampler.width = 96
    wider = build_dynrefer(DynReferConfig.from_mapping(cfg))
    # With its recorded config (an export): named by the config field.
    path = save_model_safetensors(wider, tmp_path / "wider.safetensors")
    with pytest.raises(CheckpointError, match=r"another architecture than the model's: "
                                              r"resampler\.width: 96 in the checkpoint, 64 in "
                                              r"the model\. Build"):
        load_dynrefer_checkpoint(tiny_model(seed=5), path)
    # Tensors alone: named by the shapes.
    path = save_safetensors(wider.state_dict(), tmp_path / "bare.safetensors")
    with pytest.raises(CheckpointError) as info:
        load_dynrefer_checkpoint(tiny_model(seed=5), path)
    message = str(info.value)
    assert re.search(r"bare.safetensors refused: \d+ tensors of the wrong shape", message)
    assert re.search(r"'resampler\.qformer\.[\w.]+: file \[96\] vs model \[64\]", message)


def test_other_view_count_is_refused_from_the_config(trained, tmp_path):
    views = tiny_config().region.num_views + 1
    path = save_safetensors(trained.state_dict(), tmp_path / "views.safetensors",
                            config={"model": {"arch": "dynrefer", "num_views": views}})
    with pytest.raises(CheckpointError, match=f"trained with num_views {views}, the model has"):
        load_dynrefer_checkpoint(tiny_model(seed=5), path)


@pytest.mark.parametrize(("content", "message"), [
    ([1, 2, 3], "expected a state dict, got list"),
    ({"language.memory": "weights"}, "wrong shape or type: 'language.memory: str'"),
    ({"notes": "hello"}, "1 unexpected keys: 'notes'"),
])
def test_files_that_are_not_state_dicts_are_refused(tmp_path, content, message):
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=message):
        load_dynrefer_checkpoint(tiny_model(seed=5), path)


@pytest.mark.parametrize(("content", "message"), [
    ([1, 2, 3], "expected a state dict, got list"),
    ({"notes": "hello"}, "not a state dict of tensors: \\['notes: str'\\]"),
])
def test_export_refuses_what_is_not_a_state_dict(tmp_path, capsys, content, message):
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    code = export.main(["--checkpoint", str(path), "--out", str(tmp_path / "x.safetensors")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "x.safetensors").exists()


def test_export_argument_errors(runner_file, tmp_path, capsys):
    cases = [
        (["--checkpoint", str(tmp_path / "nope.pth"), "--out", str(tmp_path / "a.safetensors")],
         "no such file"),
        (["--checkpoint", str(runner_file), "--out", str(tmp_path / "a.pth")],
         "expected a .safetensors file name"),
        (["--checkpoint", str(runner_file), "--out", str(tmp_path / "no" / "a.safetensors")],
         "does not exist"),
        (["--checkpoint", str(runner_file), "--out", str(tmp_path / "a.safetensors"),
          "--all-params", "--model-type", "huge"], "model type 'huge' is not one of"),
    ]
    for argv, fragment in cases:
        assert export.main(argv) == 2
        err = capsys.readouterr().err
        assert fragment in err and err.count("\n") == 1, err


def test_corrupt_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(CheckpointError, match="broken.safetensors: not a valid safetensors"):
        load_dynrefer_checkpoint(tiny_model(seed=5), path)
    with pytest.raises(CheckpointError, match="no such safetensors file"):
        load_any_checkpoint(tiny_model(seed=5), tmp_path / "missing.safetensors")


def test_failed_export_keeps_the_previous_file(tmp_path, monkeypatch):
    import safetensors.torch

    path = save_safetensors({"w": torch.ones(2)}, tmp_path / "w.safetensors")

    def failing_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_safetensors({"w": torch.zeros(2)}, path)
    monkeypatch.undo()
    assert torch.equal(read_safetensors(path)["model"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
