"""The shapes recipe command and the generated-data builder refuse bad input in one line."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from lavis_dynrefer.shapes import recipe
from lavis_dynrefer.typed_config import ConfigError


def test_missing_towers_checkpoint_is_one_line_before_any_work(capsys, tmp_path):
    code = recipe.main(["--towers", str(tmp_path / "nope.pth"), "--data", str(tmp_path / "d")])
    _, err = capsys.readouterr()
    assert code == 2 and err == f"error: --towers {tmp_path / 'nope.pth'}: no such file\n"
    assert not (tmp_path / "d").exists()  # nothing was generated


def test_outside_the_repository_root_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = recipe.main(["--data", "d"])
    _, err = capsys.readouterr()
    assert code == 2 and "run the recipe from the repository root" in err


def test_arms_change_only_the_views():
    assert recipe.ARMS["3views"].options == ()
    assert "model.region.num_views=1" in recipe.ARMS["1view"].options
    fixed = recipe.ARMS["fixed"].options
    assert {o.split("=")[0].split(".")[-1] for o in fixed} == {"mode", "candidates"}
    assert all(o.startswith("datasets.shapes_generated.vis_processor.train.") for o in fixed)


def _builder(**section):
    from lavis.common.registry import registry

    base = {"data_type": "images", "build_info": {"annotations": {}},
            "vis_processor": {"train": {"name": "dynrefer_multi_view", "mode": "train",
                                        "image_size": 16}}}
    return registry.get_builder_class("shapes_generated")(OmegaConf.create({**base, **section}))


def test_generated_builder_makes_the_training_split(tmp_path):
    from lavis_dynrefer.shapes.stream import GeneratedSceneDataset

    datasets = _builder(scenes_per_epoch=3, seed=2).build_datasets()
    train = datasets["train"]
    assert isinstance(train, GeneratedSceneDataset) and len(train) == 3 and train.seed == 2
    assert set(datasets) == {"train"}


@pytest.mark.parametrize("section, message", [
    ({"scenes_per_epoch": 0}, "datasets.shapes_generated.scenes_per_epoch: must be >= 1"),
    ({"sceens_per_epoch": 5}, "did you mean 'scenes_per_epoch'"),
    ({"build_info": {"annotations": {"train": {"storage": "x.json"}}}},
     "build_info.annotations.train: the training split is generated"),
])
def test_generated_builder_refuses_bad_sections(section, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        _builder(**section).build_datasets()
