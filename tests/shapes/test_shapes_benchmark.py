"""The benchmark command scores a model on a shapes split for every task it can."""

import json

from lavis_dynrefer.shapes import benchmark


def test_benchmark_with_the_tiny_model(shapes_dir, capsys, tmp_path):
    out = tmp_path / "results.json"
    code = benchmark.main(["--data", str(shapes_dir), "--split", "test", "--model-type", "tiny",
                           "--max-images", "2", "--out", str(out)])
    stdout, _ = capsys.readouterr()
    assert code == 0
    summary = json.loads(stdout.strip().splitlines()[-1])
    records = json.loads(out.read_text())
    assert summary["regions"] == len(records) > 0 and summary["num_views"] == 3
    # The tiny model has no labels: no attribute or class scores, so only the caption tasks.
    assert set(summary) >= {"region_caption", "densecap"} and "ovad" not in summary
    assert 0 <= summary["densecap"]["map"] <= 100 and summary["densecap"]["detmap"] == 100.0


def test_missing_split_is_one_line(capsys, tmp_path):
    code = benchmark.main(["--data", str(tmp_path), "--model-type", "tiny"])
    _, err = capsys.readouterr()
    assert code == 2 and "python -m lavis_dynrefer.shapes --out" in err


def test_tag_threshold_outside_the_unit_interval_is_one_line(shapes_dir, capsys):
    code = benchmark.main(["--data", str(shapes_dir), "--split", "test", "--model-type", "tiny",
                           "--tag-threshold", "1.5"])
    _, err = capsys.readouterr()
    assert code == 2 and err == "error: --tag-threshold 1.5: must lie in (0, 1)\n"
