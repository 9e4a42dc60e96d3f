"""The step-based LR schedule, and a generated training split under the runner's loaders."""

from __future__ import annotations

import math

import pytest
import torch

from lavis_dynrefer.runners.loaders import EpochLoader, create_loader
from lavis_dynrefer.runners.lr_schedule import LinearWarmupStepCosineLRScheduler, warmup_cosine_lr


def test_warmup_then_one_cosine_over_all_steps():
    lr = [warmup_cosine_lr(s, total_steps=11, init_lr=1.0, min_lr=0.0, warmup_steps=4,
                           warmup_start_lr=0.0) for s in range(11)]
    assert lr[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]  # step 4 is the peak
    # Steps 4..10 are 6 cosine steps: 1 - progress with progress k / 6.
    assert lr[7] == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 6)))
    assert lr[10] == pytest.approx(0.0) and all(a >= b for a, b in zip(lr[4:], lr[5:]))
    assert warmup_cosine_lr(50, 11, 1.0, 0.1, 4, 0.0) == pytest.approx(0.1)  # stays at min


def test_scheduler_counts_steps_across_epochs():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.0)
    schedule = LinearWarmupStepCosineLRScheduler(optimizer, max_epoch=3, min_lr=0.0, init_lr=2.0,
                                                 warmup_steps=2, warmup_start_lr=0.0,
                                                 iters_per_epoch=5)
    schedule.step(cur_epoch=1, cur_step=3)  # global step 8 of 15
    assert optimizer.param_groups[0]["lr"] == pytest.approx(
        warmup_cosine_lr(8, 15, 2.0, 0.0, 2, 0.0))
    with pytest.raises(ValueError, match="iters_per_epoch"):
        LinearWarmupStepCosineLRScheduler(optimizer, max_epoch=3, min_lr=0.0, init_lr=1.0)


class _EpochData(torch.utils.data.Dataset):
    """Item i of epoch e is (e, i)."""

    def __init__(self):
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return torch.tensor([self.epoch, i])


@pytest.mark.parametrize("workers", [0, 1])
def test_epoch_loader_tells_the_dataset_the_epoch(workers):
    loader = create_loader(_EpochData(), batch_size=3, num_workers=workers, is_train=True,
                           collate_fn=None, distributed=False, use_dist_eval_sampler=False,
                           cuda=False)
    assert isinstance(loader, EpochLoader)
    loader.set_epoch(4)
    assert set(next(loader)[:, 0].tolist()) == {4}
    loader.set_epoch(5)
    assert set(next(loader)[:, 0].tolist()) == {5}


def test_the_runner_builds_schedules_by_name():
    from omegaconf import OmegaConf

    from lavis_dynrefer.runners.lr_schedule import build_lr_scheduler

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    asked = []

    def steps():
        asked.append(True)
        return 7

    run = OmegaConf.create({"lr_sched": "linear_warmup_step_cosine_lr", "warmup_steps": 3})
    schedule = build_lr_scheduler(run, optimizer, max_epoch=2, min_lr=0.0, init_lr=1.0,
                                  iters_per_epoch=steps)
    assert schedule.total_steps == 14 and asked == [True]
    lavis = build_lr_scheduler(OmegaConf.create({"lr_sched": "linear_warmup_cosine_lr"}),
                               optimizer, max_epoch=2, min_lr=0.0, init_lr=1.0,
                               iters_per_epoch=steps)
    assert type(lavis).__name__ == "LinearWarmupCosineLRScheduler" and asked == [True]
    with pytest.raises(ValueError, match="'cosine' is not a registered schedule"):
        build_lr_scheduler(OmegaConf.create({"lr_sched": "cosine"}), optimizer, max_epoch=1,
                           min_lr=0.0, init_lr=1.0, iters_per_epoch=steps)
