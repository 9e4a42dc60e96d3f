"""The schema of a LAVIS ``run:`` section: the keys LAVIS's runner and this plugin's runner read.

LAVIS uses these values as they come (``int(max_epoch)``, ``range(..., accum_grad_iters)``,
``registry.get_lr_scheduler_class(lr_sched)(...)``), so a bad one surfaces deep in training as a
``TypeError`` or ``ZeroDivisionError`` that does not name the key. ``check_run_section`` checks
them before anything is built. Keys not listed here are left alone: tasks read and check their
own (``tag_threshold``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from lavis.common.registry import registry

from lavis_dynrefer.runners.distributed import LaunchError


@dataclass(frozen=True)
class Rule:
    """What one key must hold: ``expected`` for messages, ``accepts`` to test a value."""

    expected: str
    accepts: Callable[[Any], bool]
    nullable: bool = False


def _integer(minimum: int) -> Rule:
    return Rule(f"an integer >= {minimum}",
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum)


def _as_number(value: Any, text_ok: bool) -> float | None:
    """``value`` as a finite float, or None; numeric strings only where ``text_ok``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and text_ok:
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _number(expected: str, test: Callable[[float], bool], text_ok: bool) -> Rule:
    """A finite number. ``text_ok``: LAVIS applies ``float()`` to the key, so ``"1e-4"`` works
    (YAML 1.1 loaders such as PyYAML read an unquoted ``1e-4`` as a string)."""
    def accepts(value: Any) -> bool:
        number = _as_number(value, text_ok)
        return number is not None and test(number)

    return Rule(expected, accepts)


def _flag() -> Rule:
    return Rule("true or false", lambda v: isinstance(v, bool))


def _text(nullable: bool = False) -> Rule:
    return Rule("a non-empty string", lambda v: isinstance(v, str) and v != "", nullable)


def _splits() -> Rule:
    return Rule("a list of split names such as [train]",
                lambda v: isinstance(v, list) and all(isinstance(s, str) and s for s in v))


def _is_device(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        torch.device(value)
    except (RuntimeError, ValueError):
        return False
    return True


NON_NEGATIVE_FLOAT = _number("a number >= 0", lambda v: v >= 0, text_ok=True)

RULES: dict[str, Rule] = {
    # optimizer and schedule (read when training)
    "init_lr": NON_NEGATIVE_FLOAT,
    "min_lr": NON_NEGATIVE_FLOAT,
    "weight_decay": NON_NEGATIVE_FLOAT,
    # These three reach the scheduler / AdamW without float(), so a string would fail there.
    "warmup_lr": _number("a number (negative: start at init_lr)", lambda v: True, text_ok=False),
    "lr_decay_rate": _number("a number >= 0", lambda v: v >= 0, text_ok=False),
    "beta2": _number("a number in [0, 1)", lambda v: 0 <= v < 1, text_ok=False),
    "max_epoch": _integer(1),
    "warmup_steps": _integer(0),
    "accum_grad_iters": _integer(1),
    # Ours (runners/grad_clip.py); LAVIS's loop does not clip. Unset or null: no clipping.
    "max_grad_norm": Rule("a number > 0 or null",
                          _number("", lambda v: v > 0, text_ok=False).accepts, nullable=True),
    # data loading
    "batch_size_train": _integer(1),
    "batch_size_eval": _integer(1),
    "num_workers": _integer(0),
    "train_splits": _splits(),
    "valid_splits": _splits(),
    "test_splits": _splits(),
    # the job
    "seed": _integer(0),
    "log_freq": _integer(1),
    "world_size": _integer(1),
    "device": Rule("a torch device such as 'cpu', 'cuda' or 'cuda:0'", _is_device),
    "output_dir": _text(),
    "dist_url": _text(),
    # Nothing is downloaded: LAVIS's runner would fetch a URL here.
    "resume_ckpt_path": Rule("a local file path (not a URL)",
                             lambda v: isinstance(v, str) and v != ""
                             and not v.startswith(("http://", "https://")), nullable=True),
    "amp": _flag(),
    "evaluate": _flag(),
    "distributed": _flag(),
    "use_dist_eval_sampler": _flag(),
    "find_unused_parameters": _flag(),
    "save_every_epoch": _flag(),
}

# Read without a default by LAVIS's runner, always / only when training (run.evaluate false).
# seed: launch.setup_seeds needs it (LAVIS would fail on int(None)).
REQUIRED = ("seed", "output_dir", "device", "batch_size_eval", "num_workers")
REQUIRED_FOR_TRAINING = ("lr_sched", "init_lr", "min_lr", "weight_decay", "max_epoch",
                         "batch_size_train")


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_run_section(run: Mapping[str, Any], source: str) -> None:
    """Check the ``run:`` values LAVIS's runner reads.

    Args:
        run: the ``run:`` section as plain Python values (``OmegaConf.to_container``).
        source: the config file, put before every message.

    Raises:
        LaunchError: ``<source>: run.<key>: expected ..., got ...`` for the first bad value, or
            ``<source>: run.<key> is required ...`` for a missing one.
    """
    evaluate = run.get("evaluate", False)
    training = evaluate is False  # a non-boolean evaluate is reported below
    required = REQUIRED + (REQUIRED_FOR_TRAINING if training else ())
    for key in required:
        if run.get(key) is None:
            when = " unless run.evaluate is true" if key in REQUIRED_FOR_TRAINING else ""
            raise LaunchError(f"{source}: run.{key} is required{when}")
    for key, rule in RULES.items():
        if key not in run or (run[key] is None and rule.nullable):
            continue
        if not rule.accepts(run[key]):
            raise LaunchError(f"{source}: run.{key}: expected {rule.expected}, "
                              f"got {_shown(run[key])}")
    if "lr_sched" in run:
        _check_lr_sched(run, source)


def _check_lr_sched(run: Mapping[str, Any], source: str) -> None:
    name = run["lr_sched"]
    if not isinstance(name, str) or registry.get_lr_scheduler_class(name) is None:
        known = ", ".join(registry.list_lr_schedulers())
        raise LaunchError(f"{source}: run.lr_sched: expected a registered LR scheduler "
                          f"({known}), got {_shown(name)}")
    # LAVIS passes lr_decay_rate (default None) to every scheduler; the step one computes
    # init_lr * lr_decay_rate ** epoch with it from epoch 1 on.
    if name == "linear_warmup_step_lr" and run.get("lr_decay_rate") is None:
        raise LaunchError(f"{source}: run.lr_decay_rate is required by "
                          f"lr_sched linear_warmup_step_lr")
