"""One small shapes-world dataset per test session, written by the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SPLITS = ("train", "val", "test")
CLI_COUNTS = {"train": 20, "val": 5, "test": 5}


@pytest.fixture(scope="session")
def split_counts() -> dict[str, int]:
    """Images per split of ``shapes_dir``."""
    return dict(CLI_COUNTS)


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m lavis_dynrefer.shapes --out tmp --train 20 --val 5 --test 5`` (seed 0)."""
    out = tmp_path_factory.mktemp("shapes") / "tmp"
    counts = [arg for split, n in CLI_COUNTS.items() for arg in (f"--{split}", str(n))]
    done = subprocess.run([sys.executable, "-m", "lavis_dynrefer.shapes", "--out", str(out),
                           *counts, "--log-level", "WARNING"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def shapes_files(shapes_dir: Path) -> dict[str, dict[str, Any]]:
    """Split -> the parsed ``{split}_regions.json``."""
    return {split: json.loads((shapes_dir / f"{split}_regions.json").read_text())
            for split in SPLITS}


@pytest.fixture(scope="session")
def annotations(shapes_files: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every annotation of every split."""
    return [ann for data in shapes_files.values() for ann in data["annotations"]]
