"""Every experiment yaml in projects/ loads through LAVIS's Config and validates; every launch
script names an existing yaml and the right entry point."""

import argparse
import re
from pathlib import Path

import pytest

import lavis_dynrefer  # noqa: F401
from lavis_dynrefer import names
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.runners.launch import _check_config
from lavis_dynrefer.tasks.options import TaskOptions

ROOT = Path(__file__).resolve().parents[1]
PROJECT_YAMLS = sorted((ROOT / "projects" / "dynrefer").glob("*.yaml"))
SCRIPTS = sorted((ROOT / "run_scripts" / "dynrefer").glob("*.sh"))


def test_the_experiments_exist():
    names = {p.stem for p in PROJECT_YAMLS}
    assert {"train_vg", "ft_refcocog", "eval_vg_densecap", "eval_vg_reg", "eval_refcocog",
            "eval_ovad", "eval_coco"} <= names
    assert {p.stem for p in SCRIPTS} == names


@pytest.mark.parametrize("path", PROJECT_YAMLS, ids=lambda p: p.stem)
def test_yaml_validates(path):
    from lavis.common.config import Config
    from lavis.common.registry import registry

    args = argparse.Namespace(cfg_path=str(path), options=None)
    _check_config(args)
    cfg = Config(args)  # merges the model type's and the builders' default yaml, as LAVIS does
    model_cfg = DynReferConfig.from_mapping(cfg.model_cfg)
    assert model_cfg.region.num_views == 3
    run = cfg.run_cfg
    TaskOptions.from_run_cfg(run)
    assert registry.get_lr_scheduler_class(run.get("lr_sched", "linear_warmup_cosine_lr"))
    for name, dataset in cfg.datasets_cfg.items():
        splits = set(dataset.build_info.annotations)
        if name == names.DATASET_SHAPES_GENERATED:
            splits.add("train")  # generated on the fly, not a file
        wanted = set(run.get("train_splits", [])) | set(run.get("valid_splits", [])) | set(
            run.get("test_splits", []))
        assert wanted <= splits, (name, wanted, splits)
    if path.stem.startswith("eval_"):
        assert run.evaluate and model_cfg.weights.checkpoint
    else:
        assert not run.evaluate and run.train_splits == ["train"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_launch_script(script):
    command = [line for line in script.read_text().splitlines()
               if line and not line.startswith("#")]
    assert len(command) == 1
    entry = "train" if script.stem.startswith(("train_", "ft_", "pretrain_")) else "evaluate"
    assert re.search(rf"-m lavis_dynrefer\.{entry} --cfg-path projects/dynrefer/"
                     rf"{script.stem}\.yaml", command[0])
