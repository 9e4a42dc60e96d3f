"""``torchrun --nproc_per_node=2`` (gloo, CPU) against one process: one training step of the
whole DynRefer tiny model gives the same losses and gradients on the same global batch.

This checks every loss's normalisation over the global batch (``models/cross_rank.py``), the
region-text loss's cross-rank gather (its pairs, labels and gradient), DDP with the runner's
``find_unused_parameters=False``, and a last batch of unequal size (3 + 2 regions).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ddp_step_worker import STEPS
from offline_subprocess import subprocess_env

WORKER = Path(__file__).resolve().parent / "ddp_step_worker.py"


def _run(args: list[str], timeout: float) -> None:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=subprocess_env(),
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.fixture(scope="module")
def steps(tmp_path_factory) -> list[tuple[dict, dict]]:
    single, ranks = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("torchrun")
    _run([str(WORKER), str(single)], timeout=300)
    _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
          str(ranks)], timeout=300)
    load = lambda path: torch.load(path, weights_only=True)  # noqa: E731
    return [(load(single / f"step{k}.pt"), load(ranks / f"step{k}.pt"))
            for k in range(len(STEPS))]


@pytest.mark.slow  # three interpreters importing LAVIS: ~40 s on 2 cores
@pytest.mark.parametrize("step", range(len(STEPS)), ids=[f"{a}+{b}" for a, b in STEPS])
def test_two_processes_match_one_process(steps, step):
    one, two = steps[step]
    assert two["sizes"] == STEPS[step]
    assert set(one["loss"]) == {"loss", "loss_lm", "loss_tag", "loss_rtc"}
    for name, value in one["loss"].items():
        assert two["loss"][name] == pytest.approx(value, rel=1e-5), name
    # Every trainable parameter has a gradient in both runs (towers train here).
    assert set(one["grads"]) == set(two["grads"]) == set(one["trainable"])
    for name, grad in one["grads"].items():
        scale = grad.abs().max().item()
        torch.testing.assert_close(two["grads"][name], grad, rtol=1e-4,
                                   atol=1e-5 * scale + 1e-9, msg=lambda m, n=name: f"{n}: {m}")
