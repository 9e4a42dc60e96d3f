"""The views command: JSON records, the picture, and one-line errors for bad arguments."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from lavis_dynrefer import views
from lavis_dynrefer.paths import asset_path


@pytest.fixture()
def stripe_image(tmp_path):
    # Black 200 x 200 with a white stripe at x < 10: only t = 0.9 and 1.0 views of the box
    # (90, 90, 110, 110) see the stripe (see test_multi_view), so they are the chosen views.
    array = np.zeros((200, 200, 3), np.uint8)
    array[:, :10] = 255
    path = tmp_path / "stripe.png"
    Image.fromarray(array).save(path)
    return path


def run_main(capsys, *argv):
    code = views.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_records(capsys, stripe_image, tmp_path):
    out_png = tmp_path / "views.png"
    code, out, _ = run_main(capsys, "--image", str(stripe_image), "--box", "90", "90", "110",
                            "110", "--box", "0", "0", "50", "200.5", "--json", "--out",
                            str(out_png), "--size", "64")
    assert code == 0
    records = json.loads(out)
    assert [r["box"] for r in records] == [[90, 90, 110, 110], [0, 0, 50, 200.5]]
    first = records[0]
    assert list(first["scores"]) == ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8",
                                     "0.9", "1.0"]
    assert all(first["scores"][k] == 0 for k in list(first["scores"])[:8])
    assert first["chosen_t"][0] == 0.0 and sorted(first["chosen_t"][1:]) == [0.9, 1.0]
    assert first["view_boxes"][0] == [90, 90, 110, 110]
    # The picture: 2 rows of (image + 3 crops), each 64 px with 4 px gaps.
    assert Image.open(out_png).size == (64 + 4 + 3 * (64 + 4), 2 * (64 + 4))


def test_table_output(capsys):
    code, out, _ = run_main(capsys, "--image", asset_path("astronaut.jpg"), "--box", "150", "40",
                            "320", "220")
    assert code == 0
    assert "box 0 [150, 40, 320, 220]" in out and "view t=0.0: [150, 40, 320, 220]" in out


@pytest.mark.parametrize(
    "box, fragment",
    [
        (["1", "2", "x", "4"], "'x' is not a number"),
        (["1", "2", "nan", "4"], "finite"),
        (["600", "600", "700", "700"], "box 0: [600.0, 600.0, 700.0, 700.0] is empty after clip"),
        (["50", "50", "10", "60"], "box 0: reversed"),
    ],
)
def test_bad_box_is_one_line(capsys, box, fragment):
    code, out, err = run_main(capsys, "--image", asset_path("astronaut.jpg"), "--box", *box)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err


def test_missing_and_unreadable_image(capsys, tmp_path):
    code, _, err = run_main(capsys, "--image", str(tmp_path / "nope.jpg"), "--box", "0", "0", "1",
                            "1")
    assert code == 2 and "image file not found" in err and "nope.jpg" in err
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    code, _, err = run_main(capsys, "--image", str(text), "--box", "0", "0", "1", "1")
    assert code == 2 and "text.jpg" in err and err.count("\n") == 1


def test_module_entry_point_stdout_is_pure_json(stripe_image):
    result = subprocess.run(
        [sys.executable, "-m", "lavis_dynrefer.views", "--image", str(stripe_image), "--box",
         "90", "90", "110", "110", "--json"],
        capture_output=True, text=True, check=True,
    )
    assert json.loads(result.stdout)[0]["view_boxes"][0] == [90, 90, 110, 110]
