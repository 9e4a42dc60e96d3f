"""The converters as commands: ``python -m ...`` gives the same files as the functions.

A fresh interpreter imports LAVIS (about 10 s), so only the VG command runs as a real
``python -m`` subprocess; the other commands run their modules as ``__main__`` in this process,
the way ``-m`` does (``runpy.run_module``).
"""

from __future__ import annotations

import runpy
import subprocess
import sys
import warnings

from raw_formats import read_json

from lavis_dynrefer.data import build_tag_vocab
from lavis_dynrefer.data.converters import coco, ovad, refcocog, vg
from lavis_dynrefer.data.tag_list import load_tag_list


def _run(args: list[str], cwd) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_python_m_vg(vg_raw, tmp_path):
    done = _run(["-m", "lavis_dynrefer.data.converters.vg",
                 "--region-descriptions", str(vg_raw["region_descriptions"]),
                 "--image-data", str(vg_raw["image_data"]),
                 "--split-file", str(vg_raw["split_file"]),
                 "--out-dir", str(tmp_path / "cli"), "--image-root", "images"], cwd=tmp_path)
    assert "VG train" in done.stderr  # the progress bar
    assert "wrote" in done.stderr  # the log
    expected = vg.convert(vg_raw["region_descriptions"], vg_raw["image_data"],
                          vg_raw["split_file"], tmp_path / "fn",
                          options=vg.VGOptions(image_root="images"))
    for split, path in expected.items():
        assert read_json(tmp_path / "cli" / f"{split}.json") == read_json(path)


def test_every_command_runs_as_main(refer_raw, mdetr_raw, ovad_raw, coco_raw, tmp_path,
                                    monkeypatch):
    cli = tmp_path / "cli"
    commands = [
        ("lavis_dynrefer.data.converters.refcocog",
         ["refer", "--refs", str(refer_raw["refs"]), "--instances", str(refer_raw["instances"]),
          "--out-dir", str(cli / "refer")]),
        ("lavis_dynrefer.data.converters.refcocog",
         ["mdetr", "--mdetr-dir", str(mdetr_raw), "--splits", "train", "val",
          "--out-dir", str(cli / "mdetr")]),
        ("lavis_dynrefer.data.converters.ovad",
         ["--ovad", str(ovad_raw), "--out", str(cli / "ovad.json")]),
        ("lavis_dynrefer.data.converters.coco",
         ["--instances", str(coco_raw), "--out", str(cli / "coco.json")]),
        ("lavis_dynrefer.data.build_tag_vocab",
         ["--annotations", str(cli / "refer" / "train.json"), "--min-count", "2",
          "--out", str(cli / "tags.txt")]),
    ]
    for module, args in commands:
        monkeypatch.setattr(sys, "argv", [module, *args])
        with warnings.catch_warnings():
            # runpy warns that the module is already imported; -m runs it the same way
            warnings.simplefilter("ignore", RuntimeWarning)
            runpy.run_module(module, run_name="__main__")

    fn = tmp_path / "fn"
    refer = refcocog.convert_refer_files(refer_raw["refs"], refer_raw["instances"], fn / "refer")
    mdetr = refcocog.convert_mdetr_files(mdetr_raw, fn / "mdetr", splits=["train", "val"])
    for split in ("train", "val"):
        assert read_json(cli / "refer" / f"{split}.json") == read_json(refer[split])
        assert read_json(cli / "mdetr" / f"{split}.json") == read_json(mdetr[split])
    assert read_json(cli / "ovad.json") == read_json(ovad.convert_file(ovad_raw, fn / "o.json"))
    assert read_json(cli / "coco.json") == read_json(coco.convert_file(coco_raw, fn / "c.json"))
    # "the man in yellow coat" and "a man holding skis" share only "man"
    assert load_tag_list(cli / "tags.txt") == ["man"]
    assert build_tag_vocab.build_vocabulary([refer["train"]], min_count=2) == ["man"]
