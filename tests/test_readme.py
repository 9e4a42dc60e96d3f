"""The README's commands and Python example stay true."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands():
    (lang1, first), (lang2, second) = BLOCKS[:2]
    assert lang1 == lang2 == "bash"
    assert first.startswith("pip install -e . && python -m lavis_dynrefer.")
    assert second.strip() == 'pip install -e ".[test]" && python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]"' in ci and "python -m pytest" in ci


def test_first_command_runs(tmp_path):
    """The demo on the shipped model and scene (the weights ship inside the package)."""
    command = BLOCKS[0][1].strip().split(" && ", 1)[1]
    argv = shlex.split(command)
    argv[0] = sys.executable
    out = tmp_path / "demo.png"
    result = subprocess.run(argv + ["--out", str(out), "--json"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    records = json.loads(result.stdout)
    assert len(records) == 6 and all(r["caption"] for r in records)
    assert all(len(r["attr"]) == 28 and len(r["cls"]) == 8 for r in records)
    assert out.stat().st_size > 0


def test_python_examples_run(monkeypatch):
    examples = [code for lang, code in BLOCKS if lang == "python"]
    assert len(examples) == 4
    monkeypatch.chdir(ROOT)
    namespace = {}
    for example in examples:
        exec(compile(example, "README.md", "exec"), namespace)
    results = namespace["results"]
    assert len(results) == 1 and isinstance(results[0]["caption"], str)
    grounded = namespace["grounded"]  # one text each, one candidate region
    assert len(grounded) == 2 and all(len(g["scores"]) == 1 for g in grounded)
    assert all(g["matches"] == ([0] if g["scores"][0] >= 0.5 else []) for g in grounded)
    records = namespace["records"]  # "Use it on your own images": the captions it shows
    assert [r["caption"] for r in records] == [
        "the striped yellow shape right of the star",
        "the small dotted green shape in the top left corner"]
    assert records[0]["class"] == "star" and list(records[0]["attributes"])[:3] == [
        "angular", "pointed", "right"]
    assert [v["box"] for v in records[0]["views"]] == [[182, 51, 224, 99], [91, 25, 224, 161],
                                                       [0, 0, 224, 224]]
    out = namespace["out"]
    assert tuple(out.images.shape) == (2, 3, 3, 224, 224)
    assert out.boxes[:, 0].tolist() == [[0, 0, 224, 224]] * 2
