"""``python -m lavis_dynrefer.benchmark SUITE`` runs every suite at minimal sizes (no timings
are asserted: the machine is shared), prints its table and writes its JSON."""

import json

import pytest

from lavis_dynrefer.benchmark.__main__ import main


def run_suite(capsys, tmp_path, *argv):
    out = tmp_path / "result.json"
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert printed.startswith(f"{argv[0]}:")
    return printed, result


def test_processor_suite(capsys, tmp_path):
    printed, result = run_suite(capsys, tmp_path, "processor", "--regions", "1", "3",
                                "--repeats", "1", "--size", "32")
    assert [row["regions/image"] for row in result["rows"]] == [1, 3]
    for row in result["rows"]:
        # the processor chooses the release-style loop's views for every region
        assert row["same views"] == f"{row['regions/image']}/{row['regions/image']}"
        assert row["same pixels"] is True
        assert row["speed-up"] > 0 and row["processor regions/s"] > 0
    assert "release regions/s" in printed


def test_dedup_suite(capsys, tmp_path):
    _, result = run_suite(capsys, tmp_path, "dedup", "--regions", "6", "--shapes-images", "2")
    shapes, vg = result["rows"]
    assert shapes["input"] == "shapes test split" and shapes["images"] == 2
    assert vg["regions/image"] == 6 and vg["views"] == 18
    for row in result["rows"]:
        assert 0 < row["distinct (eval)"] <= 1 and 0 < row["distinct (train)"] <= 1


def test_inference_suite_with_stage_breakdown(capsys, tmp_path):
    _, result = run_suite(capsys, tmp_path, "inference", "--model-types", "tiny",
                          "--regions", "2")
    (row,) = result["rows"]
    assert row["model"] == "tiny" and row["regions/image"] == 2
    for stage in ("processor", "vit", "roi+align+fusion", "q-former", "tagging", "generation"):
        assert row[stage] > 0, stage
    assert row["peak RSS MiB"] > 0


def test_train_suite(capsys, tmp_path):
    _, result = run_suite(capsys, tmp_path, "train", "--model-types", "tiny", "--regions", "2",
                          "--steps", "1")
    (row,) = result["rows"]
    assert row["regions/s"] > 0 and row["outside model"].endswith("%")


def test_cost_suite(capsys, tmp_path):
    printed, result = run_suite(capsys, tmp_path, "cost", "--model-type", "tiny")
    assert result["model_type"] == "tiny"
    assert "vision" in printed


@pytest.mark.slow
def test_startup_suite(capsys, tmp_path):
    _, result = run_suite(capsys, tmp_path, "startup", "--repeats", "1", "--skip-demo")
    assert [row["what"] for row in result["rows"]] == ["python -c pass", "import lavis_dynrefer"]
    assert "torch" in result["imports"]


def test_json_into_a_missing_folder_is_one_error_line(capsys, tmp_path):
    assert main(["dedup", "--json", str(tmp_path / "missing" / "out.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --json ") and "missing" in err and err.count("\n") == 1


def test_unknown_suite_is_refused():
    with pytest.raises(SystemExit) as exit_info:
        main(["nonsense"])
    assert exit_info.value.code == 2
