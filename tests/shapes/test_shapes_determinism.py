"""Same seed -> the same bytes (across processes and worker counts); splits are independent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lavis_dynrefer.shapes import write_dataset

SMALL = {"train": 4, "val": 2, "test": 2}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def seed0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed0")
    write_dataset(out, seed=0, counts=SMALL)
    return out


def test_same_seed_same_bytes(seed0: Path, tmp_path: Path):
    write_dataset(tmp_path, seed=0, counts=SMALL, workers=2)
    first, second = _files(seed0), _files(tmp_path)
    assert sorted(first) == sorted(second)
    assert any(name.endswith(".png") for name in first)
    for name in first:
        assert first[name] == second[name], name


def test_images_match_the_command_line_run(seed0: Path, shapes_dir: Path):
    """The CLI run (other process, more images) drew the same first images from the seed."""
    for split in SMALL:
        png = f"images/{split}/000001.png"
        assert (seed0 / png).read_bytes() == (shapes_dir / png).read_bytes()


def test_other_seed_other_data(seed0: Path, tmp_path: Path):
    write_dataset(tmp_path, seed=1, counts=SMALL)
    first, second = _files(seed0), _files(tmp_path)
    assert first["train_regions.json"] != second["train_regions.json"]
    assert first["images/train/000000.png"] != second["images/train/000000.png"]
    assert first["vocab.txt"] == second["vocab.txt"] and first["tags.txt"] == second["tags.txt"]


def test_splits_are_independent_streams(seed0: Path, tmp_path: Path):
    write_dataset(tmp_path, seed=0, counts={"train": 2, "val": 3})
    for name in ("images/train/000001.png", "images/val/000000.png", "images/val/000001.png"):
        assert (tmp_path / name).read_bytes() == (seed0 / name).read_bytes(), name
    ours, theirs = (json.loads((folder / "val_regions.json").read_text())
                    for folder in (tmp_path, seed0))
    count = len(theirs["annotations"])
    assert ours["annotations"][:count] == theirs["annotations"]
    assert not (tmp_path / "test_regions.json").exists()  # a split of 0 images is not written
    # val images of one scene differ from train images of the same index: other streams
    assert (seed0 / "images/val/000000.png").read_bytes() != (
        seed0 / "images/train/000000.png").read_bytes()
