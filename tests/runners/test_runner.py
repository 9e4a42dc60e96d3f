"""The DynRefer runner trains, checkpoints and resumes on CPU through LAVIS's machinery.

Everything runs on the test-only tiny regressor of ``runner_tiny`` (names ``test_runner_*``),
through ``lavis_dynrefer.train.main`` / ``evaluate.main`` in process (no sockets: single-process
runs open no process group), and through real subprocesses for the ``-m`` entry point and
``torchrun`` (see ``test_entry_points.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import runner_tiny
import torch
from lavis.common.registry import registry
from lavis.datasets.datasets.dataloader_utils import PrefetchLoader
from torch import nn

from lavis_dynrefer import evaluate, names, train
from lavis_dynrefer.runners import runner as runner_module
from lavis_dynrefer.runners.launch import build_runner, reserve_job_folder
from lavis_dynrefer.runners.loaders import EpochLoader
from lavis_dynrefer.runners.runner import (
    DynReferRunner,
    atomic_torch_save,
    load_trainable_state,
    optimizer_param_groups,
)

CHECKPOINT_KEYS = {"model", "optimizer", "config", "scaler", "epoch", "best_epoch",
                   "best_agg_metric"}


def _train(directory: Path, *options: str, **run) -> DynReferRunner:
    directory.mkdir(parents=True, exist_ok=True)
    cfg_path = runner_tiny.write_run_config(directory, **run)
    argv = ["--cfg-path", str(cfg_path)] + (["--options", *options] if options else [])
    return train.main(argv)


def _train_stats(output_dir: Path) -> list[dict]:
    lines = (output_dir / "log.txt").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"train_')]


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> DynReferRunner:
    """Two epochs with validation, a checkpoint after every epoch."""
    return _train(tmp_path_factory.mktemp("uninterrupted"), save_every_epoch=True)


def test_runner_is_registered_and_used_by_default(uninterrupted):
    assert registry.get_runner_class(names.RUNNER) is DynReferRunner
    assert type(uninterrupted) is DynReferRunner
    assert uninterrupted.config.run_cfg.runner == names.RUNNER


def test_cpu_model_and_loaders(uninterrupted):
    # LAVIS's model property returns None on CPU; its loaders create a CUDA stream.
    assert isinstance(uninterrupted.model, runner_tiny.TinyRegressor)
    assert uninterrupted.cuda_enabled is False
    loaders = uninterrupted.dataloaders
    assert isinstance(loaders["train"], EpochLoader)
    assert not any(isinstance(loader, PrefetchLoader) for loader in loaders.values())


def test_training_writes_checkpoints_and_loss_decreases(uninterrupted):
    out = uninterrupted.output_dir
    assert out.is_absolute()
    assert {p.name for p in out.glob("*.pth")} == {
        "checkpoint_0.pth", "checkpoint_1.pth", "checkpoint_best.pth"}
    losses = [float(s["train_loss"]) for s in _train_stats(out)]
    assert len(losses) == 2
    assert losses[1] < 0.9 * losses[0]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_checkpoint_is_weights_only_and_trainable_only(uninterrupted):
    checkpoint = _load(uninterrupted.output_dir / "checkpoint_1.pth")
    assert set(checkpoint) == CHECKPOINT_KEYS
    assert checkpoint["epoch"] == 1
    assert checkpoint["scaler"] is None
    # LAVIS's rule: frozen parameters are left out, buffers kept.
    assert "frozen.weight" not in checkpoint["model"]
    assert {"encoder.weight", "ln_gate", "scale", "offset"} <= set(checkpoint["model"])
    assert len(checkpoint["optimizer"]["param_groups"]) == 2
    assert checkpoint["config"]["run"]["runner"] == names.RUNNER


def test_optimizer_groups_follow_release_rule(uninterrupted):
    by_id = {id(p): n for n, p in uninterrupted.model.named_parameters()}
    groups = uninterrupted.optimizer.param_groups
    assert [by_id[id(p)] for p in groups[0]["params"]] == ["encoder.weight", "head.weight"]
    # named_parameters order: a module's own parameters before its children's.
    assert [by_id[id(p)] for p in groups[1]["params"]] == [
        "ln_gate", "scale", "encoder.bias", "norm.weight", "norm.bias", "head.bias"]
    assert groups[0]["weight_decay"] == 0.05 and groups[1]["weight_decay"] == 0.0
    assert groups[0]["betas"] == (0.9, 0.999)


def test_param_groups_name_rule():
    module = nn.Module()
    module.proj = nn.Linear(3, 3)
    module.bn_table = nn.Parameter(torch.ones(2, 2))  # 2-d, but "bn" in the name
    module.bias_table = nn.Parameter(torch.ones(2, 2))
    module.kernel = nn.Parameter(torch.ones(2, 2, 2))
    module.frozen = nn.Parameter(torch.ones(2, 2), requires_grad=False)
    decay, no_decay = optimizer_param_groups(module, 0.05)
    names_of = {id(p): n for n, p in module.named_parameters()}
    assert {names_of[id(p)] for p in decay["params"]} == {"proj.weight", "kernel"}
    assert {names_of[id(p)] for p in no_decay["params"]} == {"bn_table", "bias_table", "proj.bias"}
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.05, 0.0)


def test_resume_repeats_the_uninterrupted_run(uninterrupted, tmp_path):
    resumed = _train(tmp_path, save_every_epoch=True,
                     resume_ckpt_path=str(uninterrupted.output_dir / "checkpoint_0.pth"))
    assert resumed.start_epoch == 1
    assert len(_train_stats(resumed.output_dir)) == 1  # only epoch 1 was trained
    assert not (resumed.output_dir / "checkpoint_0.pth").exists()
    expected = _load(uninterrupted.output_dir / "checkpoint_1.pth")
    got = _load(resumed.output_dir / "checkpoint_1.pth")
    assert got["model"].keys() == expected["model"].keys()
    for key, value in expected["model"].items():
        torch.testing.assert_close(got["model"][key], value, rtol=0, atol=0, msg=key)
    for index, state in expected["optimizer"]["state"].items():
        for name, value in state.items():
            torch.testing.assert_close(got["optimizer"]["state"][index][name], value,
                                       rtol=0, atol=0)


def test_resume_keeps_the_best_epoch_from_before_the_interruption(tmp_path):
    # Epoch 0 is the best; a run resumed from checkpoint_0 in a new folder must still test the
    # epoch-0 weights (LAVIS's resume forgets the best and tests its own best epoch).
    first = _train(tmp_path / "first", save_every_epoch=True, test_runner_best_first=True)
    resumed = _train(tmp_path / "resumed", save_every_epoch=True, test_runner_best_first=True,
                     resume_ckpt_path=str(first.output_dir / "checkpoint_0.pth"))
    assert (resumed.best_epoch, resumed.best_agg_metric) == (0, 1.0)
    expected = _load(first.output_dir / "checkpoint_best.pth")
    got = _load(resumed.output_dir / "checkpoint_best.pth")
    assert got["epoch"] == expected["epoch"] == 0
    for key, value in expected["model"].items():
        torch.testing.assert_close(got["model"][key], value, rtol=0, atol=0, msg=key)
    assert _load(resumed.output_dir / "checkpoint_1.pth")["best_epoch"] == 0


def test_no_best_checkpoint_when_agg_metrics_never_positive(tmp_path, caplog):
    runner = _train(tmp_path, max_epoch=1, test_runner_zero_metric=True)
    assert not list(runner.output_dir.glob("*.pth"))  # LAVIS: best only when agg_metrics > 0
    # The test phase ("best") falls back to the current weights instead of failing.
    assert "no validation epoch had agg_metrics > 0" in caplog.text


def test_validation_free_run_saves_every_epoch(tmp_path):
    runner = _train(tmp_path, valid_splits=[], test_splits=[])
    assert {p.name for p in runner.output_dir.glob("*.pth")} == {
        "checkpoint_0.pth", "checkpoint_1.pth"}


def test_relative_output_dir_is_taken_from_the_working_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg_path = runner_tiny.write_run_config(tmp_path, output_dir="relative/out")
    runner = build_runner("test", ["--cfg-path", str(cfg_path)])
    assert runner.output_dir == tmp_path / "relative" / "out" / runner.job_id
    assert registry.get_path("output_dir") == str(runner.output_dir)
    assert registry.get_path("result_dir") == str(runner.output_dir / "result")


def test_options_override_the_yaml(tmp_path):
    runner = _train(tmp_path, "run.max_epoch=1", "run.valid_splits=[]", "run.test_splits=[]")
    assert runner.max_epoch == 1
    assert [p.name for p in runner.output_dir.glob("*.pth")] == ["checkpoint_0.pth"]


def test_evaluate_entry_point(tmp_path):
    cfg_path = runner_tiny.write_run_config(tmp_path)
    logs = evaluate.main(["--cfg-path", str(cfg_path)])
    assert set(logs) == {"test"}
    assert 0 < logs["test"]["agg_metrics"] <= 1


@pytest.mark.parametrize(("argv", "message"), [
    (["--cfg-path", "/nonexistent/run.yaml"], "no such file"),
    (["--options", "run.max_epoch"], "expected key=value"),
    (["--options", "run.max_epoch=[1"], "bad --options"),
    (["--options", "model.arch=test_runner_unknown"], "model 'test_runner_unknown' is not"),
    (["--options", "run.task=test_runner_unknown"], "task 'test_runner_unknown' is not"),
    (["--options", "model.model_type=huge"], "model.model_type 'huge' is not one of"),
])
def test_configuration_errors_are_one_line(tmp_path, argv, message):
    cfg_path = runner_tiny.write_run_config(tmp_path)
    if argv[0] != "--cfg-path":
        argv = ["--cfg-path", str(cfg_path), *argv]
    with pytest.raises(SystemExit) as excinfo:
        train.main(argv)
    text = str(excinfo.value.code)
    assert text.startswith("error: ") and message in text and "\n" not in text


def test_atomic_save_keeps_the_previous_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint_0.pth"
    atomic_torch_save({"epoch": 0}, path)

    def failing_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(runner_module.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_torch_save({"epoch": 1}, path)
    monkeypatch.undo()
    assert _load(path) == {"epoch": 0}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint_0.pth"]


def test_load_trainable_state_refuses_mismatches():
    model = runner_tiny.TinyRegressor()
    state = {k: v for k, v in model.state_dict().items() if k != "frozen.weight"}
    load_trainable_state(model, state)  # a frozen parameter may be missing
    with pytest.raises(RuntimeError, match="missing trainable keys or buffers \\['offset'\\]"):
        load_trainable_state(model, {k: v for k, v in state.items() if k != "offset"})
    with pytest.raises(RuntimeError, match="unexpected keys \\['extra'\\]"):
        load_trainable_state(model, {**state, "extra": torch.zeros(1)})


def test_runs_started_in_the_same_ten_minutes_get_their_own_folders(tmp_path):
    # LAVIS's job id is the start time to ten minutes: both runs would share one folder.
    assert reserve_job_folder(tmp_path, "2026112510") == "2026112510"
    assert reserve_job_folder(tmp_path, "2026112510") == "2026112510_1"
    first = _train(tmp_path / "a", max_epoch=1, valid_splits=[], test_splits=[])
    second = _train(tmp_path / "a", max_epoch=1, valid_splits=[], test_splits=[])
    assert first.output_dir != second.output_dir
    assert (first.output_dir / "checkpoint_0.pth").is_file()
    assert (second.output_dir / "checkpoint_0.pth").is_file()
