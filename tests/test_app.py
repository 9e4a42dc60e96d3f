"""The web page: the launcher's command line and one-line errors, the page's box parsing, and
(``browser`` marker) the served page driven in headless Chromium: a typed box gets the caption
that ``lavis_dynrefer.describe`` gives it, and an expression is grounded."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from offline_subprocess import subprocess_env
from PIL import Image

from lavis_dynrefer.app import __main__ as app

HERE = Path(__file__).resolve().parent
STAR = [182.0, 51.0, 224.0, 99.0]  # the shipped scene's yellow star


def test_the_launcher_runs_streamlit_headless_on_the_port():
    args = app.build_parser().parse_args(["--port", "8765", "--model-type", "tiny"])
    command = app.streamlit_command(args)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(app.PAGE)
    flags = dict(zip(command[5:-3:2], command[6:-3:2]))
    assert flags["--server.headless"] == "true" and flags["--server.port"] == "8765"
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert command[-3:] == ["--", "--model-type", "tiny"]


@pytest.mark.parametrize("argv, fragment", [
    (["--port", "0"], "--port 0: must lie in 1..65535"),
    (["--checkpoint", "nope.pth"], "--checkpoint nope.pth: no such file"),
])
def test_launcher_errors_are_one_line(capsys, argv, fragment):
    assert app.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err


def test_the_page_parses_typed_boxes_and_uploads():
    from lavis_dynrefer.app import page
    from lavis_dynrefer.cli import CliError

    assert page.parse_boxes("1 2 3 4\n\n5, 6, 7, 8\n") == [[1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(CliError, match="line 2: expected 4 numbers"):
        page.parse_boxes("1 2 3 4\n1 2 3")
    with pytest.raises(CliError, match="'x' is not a number"):
        page.parse_boxes("1 2 x 4")
    with pytest.raises(CliError, match="notes.png: not an image file Pillow can read"):
        page.open_upload("notes.png", b"hello")
    png = io.BytesIO()
    Image.new("LA", (5, 3)).save(png, format="PNG")
    assert page.open_upload("grey.png", png.getvalue()).mode == "RGB"


def test_the_page_without_a_browser():
    """Streamlit's AppTest runs the page script in process: errors, records, grounding."""
    from streamlit.testing.v1 import AppTest

    import lavis_dynrefer
    from lavis_dynrefer.demo import shipped_scene

    at = AppTest.from_file(str(app.PAGE), default_timeout=180)
    at.run()
    assert not at.error and [m.value for m in at.markdown].count("Class: star") >= 2
    at.text_area[0].input("900 900 950 950").run()
    assert [e.value for e in at.error] == [
        "error: shapes_scene.png: box 0: [900.0, 900.0, 950.0, 950.0] is empty after clipping "
        "to the 224x224 image (clipped: [224, 224, 224, 224])"]
    at.text_area[0].input("1 2 3").run()
    assert [e.value for e in at.error] == [
        "error: boxes, line 1: expected 4 numbers x1 y1 x2 y2, got '1 2 3'"]
    at.text_area[0].input(" ".join(f"{v:g}" for v in STAR)).run()
    expected = lavis_dynrefer.describe(shipped_scene()[0], [STAR])[0]
    shown = [m.value for m in at.markdown]
    assert f"Caption: **{expected['caption']}** (score {expected['score']:.3f})" in shown
    assert shown.count("Class: star") == 1
    at.text_input[0].input("the yellow star").run()
    assert at.success[0].value.startswith("'the yellow star': [182, 51, 224, 99] score")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _browser_missing() -> str | None:
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "no chromium (Debian: apt-get install -y chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver (Debian: apt-get install -y chromium-driver)"
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install selenium)"
    return None


@pytest.mark.browser
def test_a_typed_box_gets_its_caption_in_the_browser(tmp_path):
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    import lavis_dynrefer
    from lavis_dynrefer.demo import shipped_scene

    expected = lavis_dynrefer.describe(shipped_scene()[0], [STAR])[0]
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "lavis_dynrefer.app", "--port", str(port)],
                              env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:  # the page's health endpoint (a subprocess: the network guard stays on)
            probe = subprocess.run([sys.executable, "-c", "import urllib.request, sys; "
                                    f"urllib.request.urlopen('{url}/_stcore/health', timeout=2)"],
                                   capture_output=True)
            if probe.returncode == 0:
                break
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the page did not come up in 120 s"
            time.sleep(1)
        done = subprocess.run([sys.executable, str(HERE / "browser_driver.py"), url,
                               "--box", " ".join(f"{v:g}" for v in STAR),
                               "--expression", "the yellow star"],
                              env=subprocess_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        page = json.loads(done.stdout)
        assert page["regions"] == 1
        assert "Region 0 [182, 51, 224, 99]" in page["text"]
        assert f"Caption: {expected['caption']} (score {expected['score']:.3f})" in page["text"]
        assert f"Class: {expected['class']}" in page["text"]
        assert "view t = 0" in page["text"]
        assert "'the yellow star': [182, 51, 224, 99] score" in page["text"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
