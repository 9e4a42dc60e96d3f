"""``run.max_grad_norm``: the gradients are clipped to that global norm before each step."""

from __future__ import annotations

import pytest
import runner_tiny
import torch

from lavis_dynrefer.runners.grad_clip import clip_gradients_before_step
from lavis_dynrefer.runners.launch import build_runner, shutdown


def _step(grads: list[list[float]], max_norm: float) -> list[float]:
    """One SGD step (lr 1) from zeros with the given gradients; the parameters after it, in
    one list."""
    params = [torch.nn.Parameter(torch.zeros(len(g))) for g in grads]
    optimizer = torch.optim.SGD(params, lr=1.0)
    clip_gradients_before_step(optimizer, max_norm)
    for param, grad in zip(params, grads):
        param.grad = torch.tensor(grad)
    optimizer.step()
    return [x for p in params for x in p.detach().tolist()]


def test_the_global_norm_is_clipped_before_the_step():
    # Gradients (3, 0) and (4): global norm 5, clipped to 1 -> (0.6, 0) and (0.8).
    assert _step([[3.0, 0.0], [4.0]], max_norm=1.0) == pytest.approx([-0.6, 0.0, -0.8])


def test_gradients_under_the_norm_are_left_alone():
    assert _step([[0.3, 0.0], [0.4]], max_norm=1.0) == pytest.approx([-0.3, 0.0, -0.4])


def test_max_norm_must_be_positive():
    with pytest.raises(ValueError, match="max_norm must be > 0, got 0"):
        clip_gradients_before_step(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))]), 0)


@pytest.mark.parametrize(("run", "hooks"), [({}, 0), ({"max_grad_norm": None}, 0),
                                            ({"max_grad_norm": 0.5}, 1)])
def test_the_runner_clips_only_when_asked(tmp_path, run, hooks):
    cfg_path = runner_tiny.write_run_config(tmp_path, **run)
    try:
        runner = build_runner("Training", ["--cfg-path", str(cfg_path)])
        assert len(runner.optimizer._optimizer_step_pre_hooks) == hooks
    finally:
        shutdown()
