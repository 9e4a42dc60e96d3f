"""The demo command: the shipped scene, any image and boxes, JSON records, one-line errors."""

import json

import pytest
from PIL import Image

from lavis_dynrefer import demo
from lavis_dynrefer.paths import asset_path

RESULT_KEYS = {"id", "image_id", "bbox", "caption", "score", "tags"}


def run_main(capsys, *argv):
    code = demo.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_shipped_scene_with_the_tiny_model(capsys, tmp_path):
    out_png = tmp_path / "demo.png"
    code, out, _ = run_main(capsys, "--model-type", "tiny", "--out", str(out_png))
    assert code == 0
    _, boxes = demo.shipped_scene()
    assert out.count("region ") == len(boxes) == 6
    assert "caption:" in out and "views:   t = 0.0" in out
    picture = Image.open(out_png)
    assert picture.width >= 448 and picture.height > 448  # enlarged image + caption legend


def test_json_records_follow_the_result_format(capsys, tmp_path):
    code, out, _ = run_main(capsys, "--model-type", "tiny", "--image",
                            asset_path("astronaut.jpg"), "--box", "150", "40", "320", "220",
                            "--box", "0", "0", "100", "100", "--json", "--out",
                            str(tmp_path / "a.png"))
    assert code == 0
    records = json.loads(out)
    assert [r["bbox"] for r in records] == [[150, 40, 320, 220], [0, 0, 100, 100]]
    for record in records:
        assert RESULT_KEYS <= set(record) and record["id"] is None
        assert isinstance(record["caption"], str) and 0 <= record["score"] <= 1


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--image", "missing.png", "--box", "0", "0", "1", "1"], "image file not found"),
        (["--image", "{astronaut}"], "--image needs at least one --box"),
        (["--box", "0", "0", "1", "1"], "--box needs --image"),
        (["--image", "{astronaut}", "--box", "0", "0", "x", "1"], "'x' is not a number"),
        (["--image", "{astronaut}", "--box", "600", "600", "700", "700"], "empty after clipping"),
        (["--image", "{astronaut}", "--box", "9", "9", "1", "1"], "reversed"),
        (["--model-type", "giant"], "not a model type"),
        (["--model-type", "tiny", "--checkpoint", "nope.pth"], "nope.pth"),
        (["--out", "no/such/folder/x.png"], "does not exist"),
    ],
)
def test_bad_arguments_give_one_line(capsys, argv, fragment):
    argv = [a.replace("{astronaut}", asset_path("astronaut.jpg")) for a in argv]
    if "--model-type" not in argv:
        argv += ["--model-type", "tiny"]
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err, err


def test_unreadable_image(capsys, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    code, _, err = run_main(capsys, "--model-type", "tiny", "--image", str(bad), "--box", "0",
                            "0", "1", "1")
    assert code == 2 and "bad.jpg" in err and err.count("\n") == 1


def test_the_shipped_model_loads_its_weights_offline():
    import torch
    from lavis.models import load_model_and_preprocess

    from lavis_dynrefer.paths import PACKAGE_ROOT

    path = PACKAGE_ROOT / "assets" / "shapes" / "dynrefer_shapes.pth"
    assert path.stat().st_size < 25 * 2**20
    model, vis, _ = load_model_and_preprocess("dynrefer", "shapes", is_eval=True, device="cpu")
    saved = torch.load(path, map_location="cpu", weights_only=True)["model"]
    params = dict(model.named_parameters())
    assert set(params) <= set(saved)
    for name in ("vision.vit.blocks.0.attn.qkv.weight", "language.memory", "fusion.0.weight"):
        assert torch.equal(params[name], saved[name].float()), name
    assert vis["eval"].config.image_size == 112 and model.config.tag_threshold == 0.97
    assert len(model.class_names) == 8 and model.attribute_prompts.num_attributes == 28


def test_describe_goes_through_the_processor_a_chunk_at_a_time():
    import dataclasses

    from lavis.models import load_model_and_preprocess

    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    image = Image.open(asset_path("astronaut.jpg"))
    boxes = [[10.0 * i, 10.0 * i, 10.0 * i + 60, 10.0 * i + 80] for i in range(37)]
    seen = []

    def processor(img, part):
        seen.append(len(part))
        return vis["eval"](img, part)

    model.config = dataclasses.replace(model.config, region_chunk=64)
    whole, whole_views = demo.describe(model, vis["eval"], image, boxes)  # one chunk of 37
    model.config = dataclasses.replace(model.config, region_chunk=16)
    chunked, chunked_views = demo.describe(model, processor, image, boxes)
    assert seen == [16, 16, 5]  # never more than a chunk of views rendered at once
    assert [r["bbox"] for r in chunked] == boxes
    assert [r["caption"] for r in chunked] == [r["caption"] for r in whole]
    assert chunked_views.ts.tolist() == whole_views.ts.tolist()
    assert chunked_views.view_boxes.tolist() == whole_views.view_boxes.tolist()
    assert demo.describe(model, processor, image, [])[0] == []
