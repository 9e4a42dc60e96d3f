"""Fixtures of the task tests: LAVIS registry paths in tmp_path, fake caption scorers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from task_fakes import fake_corpus_scores, fake_pair_scores

import lavis_dynrefer.tasks  # noqa: F401  (registers the tasks)
from lavis_dynrefer.evaluation.__main__ import main as metrics_command


@pytest.fixture
def lavis_dirs(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    """``result_dir`` / ``output_dir`` registry paths in tmp_path, restored afterwards.

    ``registry.register_path`` refuses a name twice per process, so the mapping is patched.
    """
    from lavis.common.registry import registry

    dirs = {"result_dir": tmp_path / "output" / "result", "output_dir": tmp_path / "output"}
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setitem(registry.mapping["paths"], name, str(path))
    return dirs


@pytest.fixture
def fake_scorers(monkeypatch) -> None:
    """Pure-Python caption scorers in place of the Java defaults, for tasks and command alike."""
    import lavis_dynrefer.evaluation.densecap as densecap
    import lavis_dynrefer.evaluation.region_caption as region_caption

    monkeypatch.setattr(region_caption, "coco_caption_scores", fake_corpus_scores)
    monkeypatch.setattr(densecap, "meteor_pair_scores", fake_pair_scores)


@pytest.fixture
def run_command(capsys):
    """``run_command(task, gt, results) -> metrics`` via the metrics command, in process."""

    def run(task: str, gt: Path, results: Path) -> dict:
        capsys.readouterr()
        assert metrics_command([task, "--gt", str(gt), "--results", str(results)]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    return run
