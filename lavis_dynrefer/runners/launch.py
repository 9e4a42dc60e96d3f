"""What ``python -m lavis_dynrefer.train`` and ``python -m lavis_dynrefer.evaluate`` share.

The flags and the start-up order are those of LAVIS's repository ``train.py``/``evaluate.py``
(which the pip package lacks): ``--cfg-path`` and ``--options k=v ...``; job id, config, process
group, seeds (seed + rank), logger, task, datasets, model, runner. Differences: the process group
works on CPU (``distributed.init_distributed``), every rank gets rank 0's job id, ``run.runner``
defaults to the DynRefer runner, and configuration mistakes end in one line instead of a
traceback from deep inside LAVIS: the registry names and the ``run:`` values
(``run_checks``) are checked before anything is built, and a ``ConfigError`` raised while the
task, datasets or model are built (a misspelled or out-of-range model key) ends the command
with one line as well.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import lavis.tasks as tasks
import torch.distributed as dist
from lavis.common.config import Config
from lavis.common.dist_utils import get_rank
from lavis.common.logger import setup_logger
from lavis.common.registry import registry
from lavis.common.utils import now
from lavis.runners.runner_base import RunnerBase
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from yaml import YAMLError

import lavis_dynrefer  # noqa: F401  (registers the plugin's models, processors, tasks, builders)
from lavis_dynrefer import names
from lavis_dynrefer.runners import runner as _runner  # noqa: F401  (registers names.RUNNER)
from lavis_dynrefer.runners.distributed import (
    LaunchError,
    init_distributed,
    setup_seeds,
    shared_job_id,
)
from lavis_dynrefer.runners.run_checks import check_run_section
from lavis_dynrefer.typed_config import ConfigError

logger = logging.getLogger(__name__)


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """LAVIS's two flags."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cfg-path", required=True, help="path to configuration file.")
    parser.add_argument(
        "--options",
        nargs="+",
        help="override some settings in the used config, the key-value pair "
        "in xxx=yyy format will be merged into config file.",
    )
    return parser.parse_args(argv)


def _options_dotlist(options: Sequence[str] | None) -> list[str]:
    """``--options`` as ``key=value`` items; LAVIS also accepts ``key value`` pairs."""
    options = list(options or [])
    if options and all("=" not in o for o in options) and len(options) % 2 == 0:
        options = [f"{k}={v}" for k, v in zip(options[0::2], options[1::2])]
    for option in options:
        key, sep, _ = option.partition("=")
        if not sep or not key.strip():
            raise LaunchError(f"bad --options item {option!r}: expected key=value")
    return options


def _check_config(args: argparse.Namespace) -> DictConfig:
    """Read the yaml with the options merged; check every registry name and ``run:`` value."""
    path = Path(args.cfg_path)
    if not path.is_file():
        raise LaunchError(f"--cfg-path {args.cfg_path}: no such file")
    try:
        options = OmegaConf.from_dotlist(_options_dotlist(args.options))
    except (OmegaConfBaseException, YAMLError) as e:
        raise LaunchError(f"bad --options {args.options}: {str(e).splitlines()[0]}") from e
    try:
        config = OmegaConf.merge(OmegaConf.load(path), options)
    except (OmegaConfBaseException, YAMLError) as e:
        raise LaunchError(f"{path}: {str(e).splitlines()[0]}") from e
    for section in ("model", "datasets", "run"):
        if not isinstance(config.get(section), DictConfig):
            raise LaunchError(f"{path}: missing '{section}:' section")
    checks = [("model", config.model.get("arch"), registry.get_model_class),
              ("task", config.run.get("task"), registry.get_task_class),
              ("runner", config.run.get("runner", names.RUNNER), registry.get_runner_class)]
    checks += [("dataset", name, registry.get_builder_class) for name in config.datasets]
    for kind, name, lookup in checks:
        if name is None or lookup(name) is None:
            raise LaunchError(f"{path}: {kind} {name!r} is not registered")
    model_types = registry.get_model_class(config.model.arch).PRETRAINED_MODEL_CONFIG_DICT
    if config.model.get("model_type") not in model_types:
        raise LaunchError(f"{path}: model.model_type {config.model.get('model_type')!r} is not "
                          f"one of {sorted(model_types)}")
    try:
        run = OmegaConf.to_container(config.run, resolve=True)
    except OmegaConfBaseException as e:
        raise LaunchError(f"{path}: run: {str(e).splitlines()[0]}") from e
    check_run_section(run, source=str(path))
    return config


def reserve_job_folder(output_dir: Path, stamp: str) -> str:
    """A job id whose folder under ``output_dir`` did not exist; the folder is created.

    LAVIS's job id is the start time to ten minutes (``lavis.common.utils.now``), so two runs
    started in the same ten minutes (a resumed run after a crash, two experiments) would share
    a folder and overwrite each other's checkpoints and results. Here the second one gets
    ``<stamp>_1``, the next ``<stamp>_2``, and so on; creating the folder reserves the id.
    """
    root = output_dir.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    for suffix in range(10_000):
        job_id = stamp if suffix == 0 else f"{stamp}_{suffix}"
        try:
            (root / job_id).mkdir()
        except FileExistsError:
            continue
        return job_id
    raise LaunchError(f"{root}: no free job folder for {stamp} (10,000 taken)")


def build_runner(description: str, argv: Sequence[str] | None = None) -> RunnerBase:
    """Parse the flags and build everything up to the runner, as LAVIS's ``train.py`` does.

    Raises:
        SystemExit: with a one-line message for a missing/invalid config, bad ``--options`` or
            a ``ConfigError`` (or ``LaunchError``) from building the task, datasets or model.
            Other exceptions propagate with their traceback.
    """
    args = parse_args(description, argv)
    job_id = now()
    try:
        _check_config(args)
        cfg = Config(args)
        if cfg.run_cfg.get("runner") is None:
            cfg.run_cfg.runner = names.RUNNER
        init_distributed(cfg.run_cfg)
    except LaunchError as e:
        raise SystemExit(f"error: {e}") from None
    if get_rank() == 0:
        job_id = reserve_job_folder(Path(cfg.run_cfg.output_dir), job_id)
    job_id = shared_job_id(job_id)
    setup_seeds(int(cfg.run_cfg.seed))
    setup_logger()  # after the process group: INFO on rank 0, WARNING elsewhere
    cfg.pretty_print()
    try:
        task = tasks.setup_task(cfg)
        datasets = task.build_datasets(cfg)
        model = task.build_model(cfg)
    except (ConfigError, LaunchError) as e:
        raise SystemExit(f"error: {args.cfg_path}: {_one_line(e)}") from None
    runner_cls = registry.get_runner_class(cfg.run_cfg.runner)
    return runner_cls(cfg=cfg, job_id=job_id, task=task, model=model, datasets=datasets)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).splitlines())


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
