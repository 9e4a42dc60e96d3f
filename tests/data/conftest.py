"""Fixtures: the raw-format inputs of ``raw_formats``, written to ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest
from raw_formats import (
    write_coco_raw,
    write_mdetr_raw,
    write_ovad_raw,
    write_refer_raw,
    write_vg_raw,
)


@pytest.fixture
def vg_raw(tmp_path: Path) -> dict[str, Path]:
    return write_vg_raw(tmp_path)


@pytest.fixture
def refer_raw(tmp_path: Path) -> dict[str, Path]:
    return write_refer_raw(tmp_path)


@pytest.fixture
def mdetr_raw(tmp_path: Path) -> Path:
    return write_mdetr_raw(tmp_path)


@pytest.fixture
def ovad_raw(tmp_path: Path) -> Path:
    return write_ovad_raw(tmp_path)


@pytest.fixture
def coco_raw(tmp_path: Path) -> Path:
    return write_coco_raw(tmp_path)
