"""``lavis_dynrefer.describe``: the demo's records for the same boxes, many images in shared
batches, proposals without boxes, and errors that name the image and box."""

import json

import pytest
from PIL import Image

import lavis_dynrefer
from lavis_dynrefer import demo
from lavis_dynrefer.describe import api
from lavis_dynrefer.describe.regions import cached_model
from lavis_dynrefer.paths import asset_path

SCENE, SCENE_BOXES = demo.shipped_scene()


@pytest.fixture(scope="module")
def shapes():
    return cached_model("shapes")


def test_the_package_attribute_stays_the_function():
    import lavis_dynrefer.describe.__main__  # noqa: F401  (loads the subpackage's modules)

    assert callable(lavis_dynrefer.describe) and lavis_dynrefer.describe is api.describe


def test_records_equal_the_demo_json_for_the_same_boxes(capsys, tmp_path, shapes):
    boxes = SCENE_BOXES[:3]
    argv = ["--image", SCENE, "--json", "--out", str(tmp_path / "d.png")]
    for box in boxes:
        argv += ["--box", *map(str, box)]
    assert demo.main(argv) == 0
    from_demo = json.loads(capsys.readouterr().out)
    records = lavis_dynrefer.describe(SCENE, boxes)  # default model: shapes, loaded once
    assert records == from_demo
    first = records[0]
    assert first["bbox"] == [182.0, 51.0, 224.0, 99.0] and first["id"] is None
    assert first["class"] in shapes[0].class_names
    names = list(first["attributes"])
    scores = list(first["attributes"].values())
    assert len(names) == shapes[0].attribute_prompts.num_attributes == len(first["attr"])
    assert scores == sorted(scores, reverse=True) and sorted(scores) == sorted(first["attr"])
    assert [v["t"] for v in first["views"]][0] == 0.0 and len(first["views"][0]["box"]) == 4


def test_many_images_share_batches_and_keep_their_order(shapes):
    model, processor = shapes
    seen = []

    def spy(image, boxes):
        seen.append(len(boxes))
        return processor(image, boxes)

    image = Image.open(SCENE)
    one = lavis_dynrefer.describe(image, SCENE_BOXES[:2], model=model, processor=processor)
    other = lavis_dynrefer.describe(SCENE, SCENE_BOXES[2:5], model=model, processor=processor)
    both = lavis_dynrefer.describe([image, SCENE], [SCENE_BOXES[:2], SCENE_BOXES[2:5]],
                                   model=model, processor=spy, batch_size=4)
    assert seen == [2, 2, 1]  # the second image fills the first batch of 4, then 1 more
    for batched, alone in zip(both[0] + both[1], one + other, strict=True):
        # another batch composition may move the last float digits (CPU matmul blocking)
        for key in ("bbox", "caption", "tags", "class", "views"):
            assert batched[key] == alone[key]
        assert batched["score"] == pytest.approx(alone["score"], abs=1e-4)
        assert batched["attr"] == pytest.approx(alone["attr"], abs=1e-4)
    assert [r["image_id"] for r in both[0]] == [0, 0]
    assert [r["image_id"] for r in both[1]] == [1, 1, 1]
    assert lavis_dynrefer.describe([image], [[]], model=model, processor=processor) == [[]]


def test_without_boxes_the_regions_are_the_proposals(shapes):
    from lavis_dynrefer.grounding.proposals import propose_boxes

    image = Image.open(SCENE).convert("RGB").crop((0, 0, 56, 56))
    records = lavis_dynrefer.describe(image, model=shapes[0], processor=shapes[1])
    expected = propose_boxes(image).tolist()
    assert 0 < len(records) == len(expected)
    assert [r["bbox"] for r in records] == expected


def test_bad_inputs_name_the_image_and_box(tmp_path, shapes):
    model, processor = shapes
    with pytest.raises(ValueError, match=r"astronaut.jpg: box 1: .*empty after clipping"):
        lavis_dynrefer.describe(asset_path("astronaut.jpg"), [[0, 0, 9, 9], [900, 900, 990, 990]],
                                model=model, processor=processor)
    with pytest.raises(ValueError, match="image 0: box 0: reversed"):
        lavis_dynrefer.describe(Image.open(SCENE), [[9, 9, 1, 1]], model=model,
                                processor=processor)
    with pytest.raises(ValueError, match="2 box lists for 1 images"):
        lavis_dynrefer.describe([SCENE], [[[0, 0, 5, 5]], None], model=model,
                                processor=processor)
    with pytest.raises(ValueError, match="one list of boxes .or None. per image"):
        lavis_dynrefer.describe([SCENE], [[0, 0, 5, 5]], model=model, processor=processor)
    with pytest.raises(ValueError, match="a list of boxes, e.g. .*, not one box"):
        lavis_dynrefer.describe(SCENE, [0, 0, 5, 5], model=model, processor=processor)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        lavis_dynrefer.describe(str(tmp_path / "missing.png"), [[0, 0, 5, 5]], model=model,
                                processor=processor)
    with pytest.raises(ValueError, match="needs its eval processor"):
        lavis_dynrefer.describe(SCENE, [[0, 0, 5, 5]], model=model)
    with pytest.raises(ValueError, match="model: 'giant' is not a model type of dynrefer"):
        lavis_dynrefer.describe(SCENE, [[0, 0, 5, 5]], model="giant")
    with pytest.raises(TypeError, match="PIL image or a path"):
        lavis_dynrefer.describe([3], [[[0, 0, 5, 5]]], model=model, processor=processor)
