"""The metrics command: one JSON object as the last stdout line, errors on stderr, exit status."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lavis_dynrefer.evaluation.__main__ import main


def _write(tmp_path, gt: dict, results: list) -> tuple[str, str]:
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "results.json"
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps(results))
    return str(gt_path), str(res_path)


IMAGES = [{"id": 1, "file_name": "1.jpg", "width": 100, "height": 100}]


@pytest.mark.slow
def test_region_caption_command_subprocess(tmp_path, java):
    # One region whose prediction equals its reference (after the PTB tokenizer: lower case,
    # punctuation dropped): METEOR 1 (one chunk), BLEU-4 1, ROUGE-L 1; CIDEr 0, because with a
    # single reference document every n-gram has document frequency 1 and idf log(1/1) = 0.
    gt = {"images": IMAGES, "annotations": [
        {"id": 5, "image_id": 1, "bbox": [0, 0, 50, 50], "caption": "A man riding a brown horse."}]}
    gt_path, res_path = _write(tmp_path, gt, [{"id": 5, "image_id": 1, "bbox": [0, 0, 50, 50],
                                               "caption": "a man riding a brown horse"}])
    proc = subprocess.run(
        [sys.executable, "-m", "lavis_dynrefer.evaluation", "region_caption", "--gt", gt_path,
         "--results", res_path], capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout  # BLEU's prints and logging stayed off stdout
    metrics = json.loads(lines[-1])
    assert list(metrics) == ["METEOR", "CIDEr", "BLEU_4", "ROUGE_L"]
    assert metrics == pytest.approx({"METEOR": 100.0, "CIDEr": 0.0, "BLEU_4": 100.0,
                                     "ROUGE_L": 100.0}, abs=1e-4)


def test_ovad_command_prints_null_for_an_undefined_group(tmp_path, capsys):
    # head attribute: +, - ranked by score -> AP 1; the medium one has no positive -> NaN, so
    # ap/medium and ap/tail (no attribute) print as null.
    gt = {"images": IMAGES,
          "annotations": [{"id": 1, "image_id": 1, "bbox": [0, 0, 5, 5], "att_vec": [1, 0]},
                          {"id": 2, "image_id": 1, "bbox": [5, 5, 9, 9], "att_vec": [0, -1]}],
          "attributes": [{"id": 0, "name": "color:red", "freq_set": "head"},
                         {"id": 1, "name": "state:wet", "freq_set": "medium"}]}
    gt_path, res_path = _write(tmp_path, gt, [{"id": 1, "attr": [0.9, 0.1]},
                                              {"id": 2, "attr": [0.2, 0.3]}])
    assert main(["ovad", "--gt", gt_path, "--results", res_path]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"ap/all": 100.0, "ap/head": 100.0, "ap/medium": None,
                                "ap/tail": None}


def test_command_reports_bad_input_and_fails(tmp_path, capsys, caplog):
    gt = {"images": IMAGES, "annotations": [
        {"id": 1, "image_id": 1, "bbox": [0, 0, 5, 5], "category_id": 1}],
        "categories": [{"id": 1, "name": "cat"}]}
    gt_path, res_path = _write(tmp_path, gt, [{"id": 2, "cls": [1.0]}])
    assert main(["recognition", "--gt", gt_path, "--results", res_path]) == 2
    assert "have no result: [1]" in caplog.text and "not GT annotation ids: [2]" in caplog.text
    assert main(["recognition", "--gt", str(tmp_path / "nope.json"), "--results", res_path]) == 2
    assert "file not found" in caplog.text and "nope.json" in caplog.text
    assert capsys.readouterr().out == ""  # no JSON line on failure
