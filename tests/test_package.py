"""The plugin registers once, leaves LAVIS's paths alone, and works from a built wheel."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import lavis_dynrefer
from lavis_dynrefer import names

ROOT = Path(__file__).resolve().parents[1]


def test_every_name_registered_to_a_plugin_class():
    from lavis.common.registry import registry

    for kind, registered in names.REGISTERED.items():
        for name in registered:
            cls = registry.mapping[kind].get(name)
            assert cls is not None, f"{name} missing from registry.mapping[{kind!r}]"
            assert cls.__module__.startswith("lavis_dynrefer."), cls


def test_processor_by_name():
    from lavis.common.registry import registry

    assert registry.get_processor_class("dynrefer_multi_view") is lavis_dynrefer.MultiViewProcessor


def test_lavis_paths_untouched():
    import lavis
    from lavis.common.registry import registry

    assert registry.get_path("library_root") == os.path.dirname(lavis.__file__)


def test_second_import_registers_nothing_new():
    # A fresh interpreter importing twice (and through the names module) must not raise LAVIS's
    # "already registered" KeyError.
    code = "import lavis_dynrefer, lavis_dynrefer.names, importlib; import lavis_dynrefer"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.slow
def test_wheel_install_has_package_data(tmp_path):
    """A regular (non-editable) wheel ships the assets and resolves them by absolute path."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True,
                   capture_output=True)
    wheel = next((tmp_path / "dist").glob("lavis_dynrefer-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        assert "lavis_dynrefer/assets/astronaut.jpg" in archive.namelist()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    code = ("import lavis_dynrefer, lavis_dynrefer.paths as p, os; "
            "print(lavis_dynrefer.__file__); assert os.path.isfile(p.asset_path('astronaut.jpg'))")
    env = dict(os.environ, PYTHONPATH=str(target))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip().startswith(str(target))
