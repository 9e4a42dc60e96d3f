"""python -m lavis_dynrefer.ground: per text the matching boxes, or that nothing matches."""

from __future__ import annotations

import json

import pytest

from lavis_dynrefer import ground
from lavis_dynrefer.demo import shipped_scene

STRIPED_SQUARE = [150, 2, 194, 46]  # the scene's only square (top right, striped)
STARS = [[3, 32, 32, 61], [182, 51, 224, 99]]


def _run(capsys, *argv):
    code = ground.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_shipped_scene_zero_one_many(tmp_path, capsys):
    _, boxes = shipped_scene()
    assert STRIPED_SQUARE in boxes and all(star in boxes for star in STARS)
    code, out, _ = _run(capsys, "--text", "the striped square in the top right corner",
                        "--text", "the purple heart", "--text", "the star", "--json",
                        "--out", str(tmp_path / "g.png"))
    assert code == 0 and (tmp_path / "g.png").is_file()
    square, heart, star = json.loads(out.strip().splitlines()[-1])
    assert [m["box"] for m in square["matches"]] == [STRIPED_SQUARE]
    assert heart["matches"] == [] and heart["best_other"] < 0.5
    assert sorted(m["box"] for m in star["matches"]) == sorted(STARS)
    assert all(0.5 <= m["score"] <= 1 for m in star["matches"])


def test_printout_says_when_nothing_matches(tmp_path, capsys):
    code, out, _ = _run(capsys, "--text", "the purple heart", "--out", str(tmp_path / "g.png"))
    assert code == 0 and "'the purple heart': no region matches (best score" in out


@pytest.mark.parametrize("argv, message", [
    (["--text", " "], "--text: an expression must not be empty"),
    (["--text", "x", "--box", "1", "2", "3", "4"],
     "--box / --proposals need --image (the shipped scene comes with its own boxes)"),
    (["--text", "x", "--threshold", "1.5"], "--threshold 1.5: must lie in (0, 1)"),
])
def test_bad_arguments_are_one_line(capsys, argv, message):
    code, _, err = _run(capsys, *argv)
    assert code == 2 and err.strip() == f"error: {message}"


def test_proposals_file_errors_name_the_record(tmp_path):
    path = tmp_path / "det.json"
    path.write_text(json.dumps([{"image_id": 1, "bbox": [0, 0, 5, 5], "score": 0.9},
                                {"image_id": 1, "bbox": [0, 0, -5, 5], "score": 0.8}]))
    with pytest.raises(ground.CliError, match=r"detection 1: expected 'bbox' \[x, y, w, h\]"):
        ground.proposals_from_file(str(path), "000001.png")
    path.write_text(json.dumps([{"image_id": 1, "bbox": [1, 2, 3, 4]},
                                {"image_id": 2, "bbox": [5, 5, 5, 5]}]))
    assert ground.proposals_from_file(str(path), "000002.png") == [[5, 5, 10, 10]]
    with pytest.raises(ground.CliError, match="no detection has image_id 'x'"):
        ground.proposals_from_file(str(path), "x.png")
