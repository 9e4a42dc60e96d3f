"""The recipe's one command, end to end at toy size: both stages, export and benchmark.

A real process (``python -m lavis_dynrefer.shapes.recipe``) from the repository root with the
project's yamls, shrunk by ``--options``: 4 generated scenes per stage, one epoch each, 2 test
images. Checked: the exported file holds stage 1's ViT (the frozen tower stage 2 was built on)
and stage 2's trained weights, in fp16, and loads as the ``shapes`` model; the benchmark wrote
one line per inference selection of the arm.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from offline_subprocess import REPO, subprocess_env

from lavis_dynrefer.shapes import recipe, write_dataset
from lavis_dynrefer.weights.checkpoint_io import read_checkpoint

TOY = ["datasets.shapes_generated.scenes_per_epoch=4", "run.max_epoch=1",
       "run.batch_size_train=2", "run.batch_size_eval=2", "run.num_workers=0",
       "run.warmup_steps=1"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    write_dataset(root / "data", seed=5, counts={"val": 2, "test": 2})
    command = [sys.executable, "-m", "lavis_dynrefer.shapes.recipe", "--data", str(root / "data"),
               "--out", str(root / "out"), "--max-test-images", "2",
               "--options", *TOY, "--towers-options", *TOY]
    proc = subprocess.run(command, cwd=REPO, env=subprocess_env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return root / "out", proc.stdout


@pytest.mark.slow
def test_export_holds_stage_one_vit_and_stage_two_weights(run):
    out, _ = run
    (towers,) = (out / "towers").glob("*/checkpoint_0.pth")
    (stage2,) = (out / "3views").glob("*/checkpoint_0.pth")
    exported = torch.load(out / "3views/dynrefer_shapes.pth", map_location="cpu")
    state = exported["model"]
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    vit = {k: v for k, v in read_checkpoint(str(towers))["model"].items()
           if k.startswith("vision.")}
    assert vit and all(torch.equal(state[k], v.half()) for k, v in vit.items())
    trained = read_checkpoint(str(stage2))["model"]
    assert not any(k.startswith("vision.") for k in trained)  # the ViT was frozen
    assert all(torch.equal(state[k], v.half()) for k, v in trained.items())
    assert exported["config"]["model"]["weights"] == {"checkpoint": None}


@pytest.mark.slow
def test_benchmark_scores_each_selection_of_the_arm(run):
    out, stdout = run
    lines = (out / "3views/benchmark.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(recipe.ARMS["3views"].selections) == 3
    for line in lines:
        summary = json.loads(line)
        assert 0 <= summary["truth"]["true"] <= 100 and summary["truth"]["captions"] > 0
    assert stdout.splitlines() == lines
