"""``python -m lavis_dynrefer.describe``: a folder in, one result file out, resumable, failures
reported by name and counted, the file written whole, and scored by the evaluation command."""

import json
import shutil

import pytest

from lavis_dynrefer import demo
from lavis_dynrefer.describe import __main__ as command
from lavis_dynrefer.describe import folder
from lavis_dynrefer.describe.regions import cached_model
from lavis_dynrefer.evaluation import __main__ as evaluation

SCENE, SCENE_BOXES = demo.shipped_scene()


@pytest.fixture(autouse=True)
def shapes(monkeypatch):
    """The shipped model, loaded once for the whole file."""
    monkeypatch.setattr(command, "load_model", lambda *_: cached_model("shapes"))


def scene_folder(tmp_path, names=("1.png", "2.png")):
    images = tmp_path / "images"
    images.mkdir()
    for name in names:
        shutil.copy(SCENE, images / name)
    return images


def annotation_file(tmp_path, boxes_by_image):
    """A region annotation file (XYXY, with captions) for the 224x224 scene copies."""
    images, annotations = [], []
    for image_id, (name, boxes) in enumerate(boxes_by_image.items(), start=1):
        images.append({"id": image_id, "file_name": name, "width": 224, "height": 224})
        for box in boxes:
            annotations.append({"id": 100 * image_id + len(annotations), "image_id": image_id,
                                "bbox": box, "caption": "a striped shape"})
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return path


def run(capsys, *argv):
    code = command.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_folder_with_boxes_scores_with_the_evaluation_command(capsys, tmp_path):
    images = scene_folder(tmp_path)
    boxes = annotation_file(tmp_path, {"1.png": SCENE_BOXES[:2], "2.png": SCENE_BOXES[2:3]})
    out, vis = tmp_path / "results.json", tmp_path / "vis"
    vis.mkdir()
    code, stdout, _ = run(capsys, "--images", images, "--boxes", boxes, "--out", out,
                          "--vis-dir", vis)
    assert code == 0 and "2 image(s) described (3 regions), 0 already there, 0 failed" in stdout
    records = json.loads(out.read_text())
    assert [(r["file_name"], r["image_id"], r["id"]) for r in records] == [
        ("1.png", 1, 100), ("1.png", 1, 101), ("2.png", 2, 202)]
    assert [r["bbox"] for r in records] == [list(map(float, b)) for b in SCENE_BOXES[:3]]
    assert sorted(p.name for p in vis.iterdir()) == ["1.png", "2.png"]
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
    assert evaluation.main(["region_caption", "--gt", str(boxes), "--results", str(out)]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(metrics) >= {"METEOR", "CIDEr"} and all(v >= 0 for v in metrics.values())


def test_failures_are_named_counted_and_the_rest_is_written(capsys, caplog, tmp_path):
    images = scene_folder(tmp_path, ("1.png", "2.png", "3.png"))
    (images / "4.png").write_bytes(b"not a png")
    boxes = annotation_file(tmp_path, {"1.png": SCENE_BOXES[:1], "2.png": [[300, 300, 320, 320]],
                                       "3.png": SCENE_BOXES[1:2], "4.png": SCENE_BOXES[:1]})
    out = tmp_path / "results.json"
    code, stdout, err = run(capsys, "--images", images, "--boxes", boxes, "--out", out)
    assert code == 2 and stdout == ""
    logged = caplog.text  # one warning per failed image, as it happens
    assert "skipped 2.png: box 0: [300.0, 300.0, 320.0, 320.0] is empty after clipping" in logged
    assert "skipped 4.png:" in logged and "not an image file" in logged
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "2 image(s) described" in last
    assert "2 failed: 2.png, 4.png" in last
    assert sorted({r["file_name"] for r in json.loads(out.read_text())}) == ["1.png", "3.png"]


def test_a_second_run_skips_what_is_done_and_retries_failures(capsys, tmp_path, monkeypatch):
    images = scene_folder(tmp_path, ("1.png", "2.png"))
    boxes = annotation_file(tmp_path, {"1.png": SCENE_BOXES[:1], "2.png": [[300, 300, 320, 320]]})
    out = tmp_path / "results.json"
    assert run(capsys, "--images", images, "--boxes", boxes, "--out", out)[0] == 2
    first = out.read_text()
    described = []
    real = folder.describe_regions
    monkeypatch.setattr(folder, "describe_regions", lambda model, processor, items, batch:
                        described.extend(i.image_id for i in items)
                        or real(model, processor, items, batch))
    boxes = annotation_file(tmp_path, {"1.png": SCENE_BOXES[:1], "2.png": SCENE_BOXES[3:4]})
    code, stdout, _ = run(capsys, "--images", images, "--boxes", boxes, "--out", out)
    assert code == 0 and "1 image(s) described (1 regions), 1 already there, 0 failed" in stdout
    assert described == [2]  # 1.png was not described again
    records = json.loads(out.read_text())
    assert records[:1] == json.loads(first) and records[1]["file_name"] == "2.png"
    code, stdout, _ = run(capsys, "--images", images, "--boxes", boxes, "--out", out)
    assert code == 0 and "0 image(s) described (0 regions), 2 already there" in stdout
    assert described == [2]


def test_a_crash_leaves_only_whole_images_in_the_output(capsys, tmp_path, monkeypatch):
    images = scene_folder(tmp_path, ("1.png", "2.png", "3.png"))
    out = tmp_path / "results.json"
    real, calls = folder.describe_regions, []

    def crash_on_third(model, processor, items, batch):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("power cut")
        return real(model, processor, items, batch)

    monkeypatch.setattr(folder, "describe_regions", crash_on_third)
    monkeypatch.setattr(folder, "proposal_boxes", lambda image: SCENE_BOXES[:2])
    with pytest.raises(RuntimeError, match="power cut"):
        command.main(["--images", str(images), "--out", str(out), "--batch-size", "2",
                      "--save-every", "100"])
    records = json.loads(out.read_text())
    assert [(r["file_name"], r["bbox"]) for r in records] == [
        (name, list(map(float, box))) for name in ("1.png", "2.png") for box in SCENE_BOXES[:2]]
    assert [r["image_id"] for r in records] == [1, 1, 2, 2]  # numbered files keep their number
    assert [p.name for p in tmp_path.iterdir()] == ["images", "results.json"]


def test_images_without_boxes_do_not_pile_up(capsys, tmp_path, monkeypatch):
    names = [f"{i}.png" for i in range(1, 6)]
    images = scene_folder(tmp_path, names)
    boxes = annotation_file(tmp_path, {name: [] for name in names})
    groups = []
    real = folder.describe_regions
    monkeypatch.setattr(folder, "MAX_IMAGES_PER_GROUP", 2)
    monkeypatch.setattr(folder, "describe_regions", lambda model, processor, items, batch:
                        groups.append(len(items)) or real(model, processor, items, batch))
    code, stdout, _ = run(capsys, "--images", images, "--boxes", boxes, "--out",
                          tmp_path / "r.json")
    assert code == 0 and "5 image(s) described (0 regions)" in stdout
    assert groups == [2, 2, 1]


def test_detection_results_give_xywh_boxes_by_file_name(capsys, tmp_path):
    images = scene_folder(tmp_path, ("000007.png", "cat.png"))
    detections = tmp_path / "dets.json"
    detections.write_text(json.dumps([
        {"image_id": 7, "bbox": [10, 20, 30, 40], "score": 0.2, "object_descriptions": "x"},
        {"image_id": 7, "bbox": [0, 0, 50, 50], "score": 0.9},
        {"image_id": "cat", "bbox": [5, 5, 20, 20], "score": 0.5}]))
    out = tmp_path / "results.json"
    code, stdout, _ = run(capsys, "--images", images, "--boxes", detections, "--out", out)
    assert code == 0, stdout
    records = json.loads(out.read_text())
    assert [(r["file_name"], r["image_id"], r["bbox"]) for r in records] == [
        ("000007.png", 7, [0.0, 0.0, 50.0, 50.0]), ("000007.png", 7, [10.0, 20.0, 40.0, 60.0]),
        ("cat.png", 8, [5.0, 5.0, 25.0, 25.0])]


@pytest.mark.parametrize("argv, fragment", [
    (["--images", "{tmp}/nope"], "--images {tmp}/nope: no such file or folder"),
    (["--images", "{tmp}/empty"], "no image files"),
    (["--images", "{tmp}/images", "--out", "{tmp}/no/such/r.json"], "does not exist"),
    (["--images", "{tmp}/images", "--out", "{tmp}/garbage.json"], "is not valid JSON"),
    (["--images", "{tmp}/images", "--boxes", "{tmp}/nope.json"], "no such file"),
    (["--images", "{tmp}/images", "--boxes", "{tmp}/garbage.json"], "not valid JSON"),
    (["--images", "{tmp}/images", "--batch-size", "0"], "--batch-size 0: must be >= 1"),
    (["--images", "{tmp}/images", "--vis-dir", "{tmp}/nope"], "--vis-dir"),
])
def test_bad_arguments_give_one_line(capsys, tmp_path, argv, fragment):
    scene_folder(tmp_path, ("1.png",))
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbage.json").write_text("{not json")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "r.json")]
    code, stdout, err = run(capsys, *argv)
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert fragment.replace("{tmp}", str(tmp_path)) in err, err
    assert not (tmp_path / "r.json").exists()
