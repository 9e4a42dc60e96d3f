"""``python -m lavis.train`` / ``lavis.evaluate``, the commands LAVIS documents, run the plugin's
entry points after ``pip install .`` and ``pip install -e .`` alike (``_lavis_dynrefer_aliases``
and its start-up ``.pth``), without any file copied into LAVIS's package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Run outputs and build leftovers at the checkout's root (lavis_dynrefer/data is a package).
TOP_LEVEL_IGNORED = {"output", "data", "build", ".git", "lavis_dynrefer.egg-info", ".pytest_cache"}


def _ignored(folder: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n == "__pycache__"}
    return ignored | (TOP_LEVEL_IGNORED & set(names) if Path(folder) == REPO else set())


def _offline_env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)  # the installed copy, not this checkout, must answer
    return env


def _run(args, cwd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_offline_env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("editable", [False, True], ids=["pip-install", "pip-install-e"])
def test_lavis_train_runs_the_plugin(tmp_path, editable):
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=_ignored)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    install = _run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", *(["-e"] if editable else []), str(source)], tmp_path)
    assert install.returncode == 0, install.stderr[-2000:]
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                         "['purelib'])"], tmp_path).stdout.strip())
    assert (purelib / "lavis_dynrefer_aliases.pth").is_file()
    assert purelib != Path(sysconfig.get_paths()["purelib"])
    where = _run([str(python), "-c", "import importlib.util as u; "
                  "print(u.find_spec('lavis.train').origin)"], tmp_path)
    expected = (source if editable else purelib) / "lavis_dynrefer" / "train.py"
    assert Path(where.stdout.strip().splitlines()[-1]) == expected, where.stderr[-2000:]
    for command in ("lavis.train", "lavis.evaluate"):
        result = _run([str(python), "-m", command, "--help"], tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "--cfg-path" in result.stdout


def test_startup_pth_is_silent_when_its_module_is_gone(tmp_path):
    """A .pth left behind by a half-removed install must not print a traceback at every start
    of Python: it imports the alias module only when that module can be found."""
    shutil.copy(REPO / "lavis_dynrefer_aliases.pth", tmp_path)
    code = ("import site, sys; sys.modules.pop('_lavis_dynrefer_aliases', None); "
            "sys.path = [p for p in sys.path if p]; "
            f"site.addpackage({str(tmp_path)!r}, 'lavis_dynrefer_aliases.pth', set()); "
            "print('_lavis_dynrefer_aliases' in sys.modules)")
    env = {**_offline_env(), "PYTHONNOUSERSITE": "1"}
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == "False"
