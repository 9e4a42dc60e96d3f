"""Absolute paths to the files shipped inside the package (yaml configs, assets).

LAVIS joins ``PRETRAINED_MODEL_CONFIG_DICT`` values onto its own package directory; an absolute
path passes through that join unchanged, so every path handed to LAVIS comes from here. This works
for editable and regular (wheel) installs alike, because the files are package data.
"""

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
CONFIG_ROOT = PACKAGE_ROOT / "configs"
ASSET_ROOT = PACKAGE_ROOT / "assets"


def config_path(relative: str) -> str:
    """Absolute path of a yaml shipped in ``lavis_dynrefer/configs``; fails if it is missing."""
    path = CONFIG_ROOT / relative
    if not path.is_file():
        raise FileNotFoundError(f"packaged config {relative!r} not found under {CONFIG_ROOT}")
    return str(path)


def asset_path(name: str) -> str:
    """Absolute path of a file shipped in ``lavis_dynrefer/assets``; fails if it is missing."""
    path = ASSET_ROOT / name
    if not path.is_file():
        raise FileNotFoundError(f"packaged asset {name!r} not found under {ASSET_ROOT}")
    return str(path)


def resolve_path(path: str) -> str:
    """A path from yaml: absolute, relative to the working directory, or to the packaged
    ``lavis_dynrefer/configs`` folder (shipped tag lists and vocabularies) or the package root
    (shipped weights under ``assets/``)."""
    candidates = [Path(path), CONFIG_ROOT / path, PACKAGE_ROOT / path]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate.resolve())
    raise FileNotFoundError(
        f"{path} not found (looked in {os.getcwd()}, {CONFIG_ROOT} and {PACKAGE_ROOT})")
