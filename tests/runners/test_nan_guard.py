"""A non-finite training loss stops the runner at that step, before any checkpoint of its epoch.

Uses the test-only tiny regressor of ``runner_tiny``, subclassed here into a model whose loss
becomes NaN (or inf) at one chosen (epoch, iteration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import runner_tiny
import torch
import yaml
from lavis.common.registry import registry

from lavis_dynrefer import train
from lavis_dynrefer.runners.runner import NonFiniteLossError

NAN_MODEL = "test_nan_guard_regressor"


@registry.register_model(NAN_MODEL)
class BreakingRegressor(runner_tiny.TinyRegressor):
    """The tiny regressor, whose loss is ``bad_value`` at (``bad_epoch``, ``bad_iter``)."""

    def __init__(self, bad_epoch: int, bad_iter: int, bad_value: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.bad_step = (bad_epoch, bad_iter)
        self.bad_value = bad_value

    @classmethod
    def from_config(cls, cfg: Any) -> BreakingRegressor:
        return cls(cfg.bad_epoch, cfg.bad_iter, cfg.bad_value, in_dim=cfg.in_dim,
                   hidden=cfg.hidden, dropout=cfg.dropout)

    def forward(self, samples: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss = super().forward(samples)["loss"]
        if (samples.get("epoch"), samples.get("iters")) == self.bad_step:
            loss = loss * self.bad_value
        return {"loss": loss, "loss_mse": loss.detach()}


def _config(directory: Path, bad_epoch: int, bad_iter: int, bad_value: float) -> Path:
    path = runner_tiny.write_run_config(directory, save_every_epoch=True, max_epoch=2)
    config = yaml.safe_load(path.read_text())
    config["model"].update(arch=NAN_MODEL, bad_epoch=bad_epoch, bad_iter=bad_iter,
                           bad_value=bad_value)
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(("bad_epoch", "bad_value", "shown"), [
    (1, float("nan"), "nan"), (0, float("inf"), "inf")])
def test_non_finite_loss_stops_before_the_epoch_checkpoint(tmp_path, bad_epoch, bad_value,
                                                           shown):
    cfg_path = _config(tmp_path, bad_epoch=bad_epoch, bad_iter=3, bad_value=bad_value)
    with pytest.raises(NonFiniteLossError) as info:
        train.main(["--cfg-path", str(cfg_path)])
    message = str(info.value)
    # 64 training samples in batches of 8: 8 iterations per epoch.
    assert f"non-finite training loss {shown} at epoch {bad_epoch}, iteration 3 of 8" in message
    assert f"(loss_mse={shown})" in message
    (output,) = (tmp_path / "output").iterdir()
    written = {p.name for p in output.glob("*.pth")}
    assert f"checkpoint_{bad_epoch}.pth" not in written
    assert written == {f"checkpoint_{e}.pth" for e in range(bad_epoch)} | (
        {"checkpoint_best.pth"} if bad_epoch else set())
    assert not [p for p in output.iterdir() if p.name.startswith(".")]  # no temporary files


def test_finite_losses_train_as_before(tmp_path):
    cfg_path = _config(tmp_path, bad_epoch=5, bad_iter=0, bad_value=float("nan"))  # never hit
    runner = train.main(["--cfg-path", str(cfg_path)])
    assert {p.name for p in runner.output_dir.glob("*.pth")} == {
        "checkpoint_0.pth", "checkpoint_1.pth", "checkpoint_best.pth"}
    assert not runner.model._forward_hooks  # the guard is removed after each epoch
