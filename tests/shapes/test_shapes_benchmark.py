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


def test_num_beams_below_one_is_one_line(shapes_dir, capsys):
    code = benchmark.main(["--data", str(shapes_dir), "--split", "test", "--model-type", "tiny",
                           "--num-beams", "0"])
    _, err = capsys.readouterr()
    assert code == 2 and err == "error: --num-beams 0: must be >= 1\n"


def test_perfect_records_score_full_truth_and_tag_map(shapes_dir):
    # Records that repeat the GT (caption, and probability 1 exactly for the region's own
    # tags): every caption is true, and every tag ranks its own regions first.
    from lavis_dynrefer.data.annotations import load_region_annotations

    gt = load_region_annotations(str(shapes_dir / "test_regions.json"))
    names = sorted({t for a in gt.annotations for t in a.extra_info["tags"]})
    records = [{"id": a.id, "image_id": a.image_id, "bbox": list(a.bbox), "caption": a.caption,
                "score": 1.0, "tag_probs": [float(t in a.extra_info["tags"]) for t in names]}
               for a in gt.annotations]
    metrics = benchmark.score_all(gt, records, names)
    assert metrics["truth"]["true"] == 100.0
    # Referring as the generator marked it (a few GT captions fit another object too).
    marked = [a.extra_info["referring"] for a in gt.annotations]
    assert metrics["truth"]["referring"] == 100.0 * sum(marked) / len(marked) < 100.0
    assert metrics["tags"] == {"mAP": 100.0, "tags": len(names)}
    # One region's caption swapped for another region's: no longer true of it.
    records[0]["caption"] = next(a.caption for a in gt.annotations
                                 if a.caption != gt.annotations[0].caption)
    assert benchmark.score_all(gt, records, names)["truth"]["true"] < 100.0


def test_selection_model_takes_the_model_types_eval_views():
    # dynrefer_shapes.yaml's eval processor: fixed context views t = 0.5 and 1.0.
    assert benchmark.view_settings("shapes", "model", [0.3]) == {
        "mode": "fixed", "candidates": (0.5, 1.0)}
    assert benchmark.view_settings("shapes", "phash", [0.3]) == {"mode": "eval"}
    assert benchmark.view_settings("tiny", "fixed", [0.3, 0.6]) == {
        "mode": "fixed", "candidates": (0.3, 0.6)}


def test_fixed_views_of_the_wrong_count_are_one_line(shapes_dir, capsys):
    code = benchmark.main(["--data", str(shapes_dir), "--split", "test", "--model-type", "tiny",
                           "--selection", "fixed", "--fixed-ts", "0.5"])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: --selection fixed: ") and "2 candidates" in err
