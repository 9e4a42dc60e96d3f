"""The runner keeps LAVIS's GPU path: CUDA prefetching, AMP with a GradScaler, resume with it.

Skipped without CUDA. Run on a GPU machine with ``pytest tests/runners -m gpu``.
"""

from __future__ import annotations

import pytest
import runner_tiny
import torch
from lavis.datasets.datasets.dataloader_utils import PrefetchLoader

from lavis_dynrefer import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_amp_training_and_resume_on_cuda(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    runner = train.main(["--cfg-path", str(runner_tiny.write_run_config(
        first, device="cuda", amp=True, save_every_epoch=True))])
    assert runner.cuda_enabled
    assert next(runner.model.parameters()).is_cuda
    assert isinstance(runner.dataloaders["val"], PrefetchLoader)
    checkpoint_0 = runner.output_dir / "checkpoint_0.pth"
    saved = torch.load(checkpoint_0, weights_only=True)
    assert saved["scaler"]["scale"] > 0  # a real GradScaler state

    resumed = train.main(["--cfg-path", str(runner_tiny.write_run_config(
        second, device="cuda", amp=True, resume_ckpt_path=str(checkpoint_0)))])
    assert resumed.start_epoch == 1
    assert resumed.scaler.get_scale() > 0
    assert (resumed.output_dir / "checkpoint_best.pth").is_file()
