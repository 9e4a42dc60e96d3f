"""A training run killed with SIGKILL after its first checkpoint and resumed with
``run.resume_ckpt_path`` ends exactly as an uninterrupted run with the same seed.

Real processes (``python -m lavis_dynrefer.train``) with the project's
``projects/dynrefer/train_shapes.yaml`` (training scenes generated on the fly, new ones each
epoch, so the resumed epochs must regenerate exactly the same scenes), fine-tuning the shipped
``shapes`` weights: the ``region_caption`` task with a validation split, a checkpoint every
epoch and a test phase on the best epoch. Compared: every parameter
and optimizer state of the last checkpoint (bit for bit), the best checkpoint, the per-epoch
training losses, the validation and test metrics, and every result file; and the killed run's
files are checked to be complete and readable.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from offline_subprocess import subprocess_env

from lavis_dynrefer.shapes import write_dataset

EPOCHS = 3
PROJECT_YAML = Path(__file__).resolve().parents[1] / "projects/dynrefer/train_shapes.yaml"


def _command(root: Path, output_dir: Path, *options: str) -> list[str]:
    """The project's shapes training yaml on 4 generated scenes per epoch and a small val split,
    fine-tuning the shipped weights (so the validation metric is positive and a best checkpoint
    exists)."""
    data = root / "data"
    return [sys.executable, "-m", "lavis_dynrefer.train", "--cfg-path", str(PROJECT_YAML),
            "--options",
            "model.weights.checkpoint=assets/shapes/dynrefer_shapes.pth",
            "datasets.shapes_generated.scenes_per_epoch=4",
            "datasets.shapes_generated.image_size=112",
            f"datasets.shapes_generated.build_info.annotations.val.storage="
            f"{data / 'val_regions.json'}",
            f"run.max_epoch={EPOCHS}", "run.batch_size_train=2", "run.batch_size_eval=4",
            "run.num_workers=0", "run.warmup_steps=2", "run.init_lr=1e-4", "run.test_splits=[val]",
            f"run.output_dir={output_dir}", *options]


def _run(command: list[str], cwd: Path) -> None:
    proc = subprocess.run(command, cwd=cwd, env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _kill_after_first_checkpoint(command: list[str], cwd: Path, output_root: Path) -> Path:
    """Start the run, SIGKILL it as soon as ``checkpoint_0.pth`` exists; its job folder."""
    proc = subprocess.Popen(command, cwd=cwd, env=subprocess_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    try:
        while not list(output_root.glob("*/checkpoint_0.pth")):
            if proc.poll() is not None:
                pytest.fail(f"the run ended (status {proc.returncode}) before its first "
                            "checkpoint")
            if time.monotonic() > deadline:
                pytest.fail("no first checkpoint within 10 minutes")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    (folder,) = [p.parent for p in output_root.glob("*/checkpoint_0.pth")]
    return folder


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _lines(path: Path, prefix: str) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()
            if line.startswith(prefix)]


def _assert_same_tensors(got: dict, expected: dict, what: str) -> None:
    assert got.keys() == expected.keys(), what
    for key, value in expected.items():
        if isinstance(value, dict):
            _assert_same_tensors(got[key], value, f"{what}.{key}")
        elif isinstance(value, torch.Tensor):
            torch.testing.assert_close(got[key], value, rtol=0, atol=0,
                                       msg=lambda m, k=key: f"{what}.{k}: {m}")
        else:
            assert got[key] == value, f"{what}.{key}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kill_resume")
    write_dataset(root / "data", seed=3, counts={"val": 2}, size=112)
    _run(_command(root, root / "uninterrupted"), cwd=root)
    (straight,) = list((root / "uninterrupted").iterdir())
    killed = _kill_after_first_checkpoint(_command(root, root / "interrupted"), root,
                                          root / "interrupted")
    # What the kill left, before anything else touches the folder.
    left = {p.name for p in killed.iterdir()}
    assert {"checkpoint_0.pth", "checkpoint_best.pth"} <= left
    assert not list(killed.glob(f"checkpoint_{EPOCHS - 1}.pth"))
    _run(_command(root, root / "interrupted",
                  f"run.resume_ckpt_path={killed / 'checkpoint_0.pth'}"), cwd=root)
    (resumed,) = [p for p in (root / "interrupted").iterdir() if p != killed]
    return {"straight": straight, "killed": killed, "resumed": resumed, "left": left}


@pytest.mark.slow  # three training processes of the tiny model: about a minute on 2 cores
def test_resumed_run_ends_with_the_same_parameters(runs):
    last = f"checkpoint_{EPOCHS - 1}.pth"
    expected, got = _load(runs["straight"] / last), _load(runs["resumed"] / last)
    assert got["epoch"] == expected["epoch"] == EPOCHS - 1
    _assert_same_tensors(got["model"], expected["model"], "model")
    _assert_same_tensors(got["optimizer"]["state"], expected["optimizer"]["state"], "optimizer")
    assert (got["best_epoch"], got["best_agg_metric"]) == (
        expected["best_epoch"], expected["best_agg_metric"])
    # The test phase reloads the best epoch of the whole run, also after the resume.
    _assert_same_tensors(_load(runs["resumed"] / "checkpoint_best.pth")["model"],
                         _load(runs["straight"] / "checkpoint_best.pth")["model"], "best")


@pytest.mark.slow
def test_resumed_run_logs_the_same_losses_and_metrics(runs):
    straight_train = _lines(runs["straight"] / "log.txt", '{"train_')
    assert len(straight_train) == EPOCHS
    assert _lines(runs["killed"] / "log.txt", '{"train_') == straight_train[:1]
    assert _lines(runs["resumed"] / "log.txt", '{"train_') == straight_train[1:]
    # evaluate.txt: one validation line per epoch, then the test phase.
    straight = _lines(runs["straight"] / "evaluate.txt", "{")
    assert len(straight) == EPOCHS + 1
    assert _lines(runs["killed"] / "evaluate.txt", "{") == straight[:1]
    assert _lines(runs["resumed"] / "evaluate.txt", "{") == straight[1:]


@pytest.mark.slow
def test_no_result_or_checkpoint_is_lost_or_corrupt(runs):
    straight, killed, resumed = runs["straight"], runs["killed"], runs["resumed"]
    # Every file the uninterrupted run wrote exists in the killed or the resumed folder, and
    # every result file holds the same records.
    for path in sorted((straight / "result").glob("*.json")):
        name = path.name
        holder = killed if (killed / "result" / name).is_file() else resumed
        assert (holder / "result" / name).is_file(), name
        assert json.loads((holder / "result" / name).read_text()) == json.loads(
            path.read_text()), name
    for name in {p.name for p in straight.glob("*.pth")}:
        assert (killed / name).is_file() or (resumed / name).is_file(), name
    # The killed folder still holds what it held right after the kill, all of it readable.
    assert {p.name for p in killed.iterdir()} == runs["left"]
    for path in killed.glob("*.pth"):
        assert set(_load(path)) >= {"model", "optimizer", "epoch"}, path
    assert not [p for p in killed.iterdir() if p.name.endswith(".tmp")]
