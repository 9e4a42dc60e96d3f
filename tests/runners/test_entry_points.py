"""``python -m lavis_dynrefer.train`` and ``torchrun`` (gloo on CPU) as real subprocesses.

The workers run ``runner_launch.py MODULE ...``, which registers the tiny test components and
then runs MODULE as ``python -m`` would. Subprocesses are outside the test process's network
guard, so torchrun's loopback rendezvous is allowed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import runner_tiny
import torch
from offline_subprocess import subprocess_env

LAUNCH = Path(__file__).resolve().parent / "runner_launch.py"


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=subprocess_env(),
                          timeout=timeout)


def _only_output_dir(root: Path) -> Path:
    (output_dir,) = list((root / "output").iterdir())
    return output_dir


def test_train_module_in_a_subprocess(tmp_path):
    cfg_path = runner_tiny.write_run_config(tmp_path, max_epoch=1)
    proc = _run([str(LAUNCH), "lavis_dynrefer.train", "--cfg-path", str(cfg_path)],
                timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output_dir = _only_output_dir(tmp_path)
    assert (output_dir / "checkpoint_best.pth").is_file()
    assert "Averaged stats" in proc.stderr


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    cfg_path = runner_tiny.write_run_config(tmp_path, max_epoch=1)
    proc = _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                 str(LAUNCH), "lavis_dynrefer.train", "--cfg-path", str(cfg_path)],
                timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output_dir = _only_output_dir(tmp_path)  # both ranks used rank 0's job id
    checkpoint = torch.load(output_dir / "checkpoint_best.pth", weights_only=True)
    run_cfg = checkpoint["config"]["run"]
    assert (run_cfg["distributed"], run_cfg["world_size"], run_cfg["dist_backend"]) == (
        True, 2, "gloo")
    # 64 training samples, batch 8 per rank, 2 ranks: the DistributedSampler gives 4 iterations.
    assert "4 iters per inner epoch" in proc.stderr
