"""Bad inputs that no other test file tried: each gets a clear error naming it, or a documented
correction. ``docs/bad_inputs.md`` lists every bad input and the test that checks it."""

from __future__ import annotations

import copy
import dataclasses
import os

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from lavis_dynrefer.data.annotations import AnnotationFormatError, parse_region_annotations
from lavis_dynrefer.datasets.region_dataset import RegionDataset
from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.paths import asset_path
from lavis_dynrefer.processors.image_io import ImageLoadError, load_image
from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor
from lavis_dynrefer.runners.runner import DynReferRunner
from lavis_dynrefer.typed_config import ConfigError


# ----------------------------------------------------------------- images
def test_decompression_bomb_is_refused_naming_file_and_limit(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (100, 100)).save(path)  # 10,000 px
    # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith(f"{path}: image too large")
    assert "Image size (10000 pixels) exceeds limit of 2000 pixels" in message


def _grey16(path):
    Image.fromarray(np.full((6, 8), 257 * 100, np.uint16)).save(path)


@pytest.mark.parametrize(("name", "write", "pixel"), [
    ("grey.png", lambda p: Image.new("L", (8, 6), 90).save(p), (90, 90, 90)),
    ("rgba.png", lambda p: Image.new("RGBA", (8, 6), (10, 20, 30, 0)).save(p), (10, 20, 30)),
    ("la.png", lambda p: Image.new("LA", (8, 6), (70, 255)).save(p), (70, 70, 70)),
    ("cmyk.jpg", lambda p: Image.new("RGB", (8, 6), (200, 30, 40)).convert("CMYK").save(
        p, quality=100), (200, 30, 40)),
    ("grey16.png", _grey16, (100, 100, 100)),
    ("float.tif", lambda p: Image.fromarray(np.full((6, 8), 0.5, np.float32)).save(p),
     (128, 128, 128)),  # 32-bit float grey in [0, 1] is scaled by 255
])
def test_image_files_of_every_mode_load_as_rgb(tmp_path, name, write, pixel):
    path = tmp_path / name
    write(path)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (8, 6)
    assert np.abs(np.subtract(image.getpixel((4, 3)), pixel)).max() <= 3


@pytest.mark.parametrize(("damage", "fragment"), [
    ("flip", "cannot decode image, truncated or corrupt"),
    ("empty", "not an image file Pillow can read"),
])
def test_corrupt_or_empty_image_file_is_refused(tmp_path, damage, fragment):
    path = tmp_path / "photo.png"
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    Image.fromarray(pixels).save(path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[300:320] = bytes(b ^ 0xFF for b in data[300:320])  # inside the pixel data
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match=f"photo.png: {fragment}"):
        load_image(path)


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageLoadError, match="not a file"):
        load_image(tmp_path)


# ----------------------------------------------------------------- boxes
def test_boxes_outside_the_image_are_clipped():
    out = MultiViewProcessor(MultiViewConfig(image_size=16))(
        Image.new("RGB", (100, 80)), [[-10, -5, 50, 300], [90, 70, 500, 500]])
    assert out.view_boxes[:, 0].tolist() == [[0, 0, 50, 80], [90, 70, 100, 80]]


def test_a_flat_box_instead_of_a_list_of_boxes():
    with pytest.raises(ValueError, match=r"box 0: expected 4 numbers \(x1, y1, x2, y2\), got 10"):
        MultiViewProcessor()(Image.new("RGB", (100, 80)), [10, 10, 50, 50])


def test_numeric_strings_and_numpy_boxes_are_read_as_numbers():
    image = Image.new("RGB", (100, 80))
    expected = MultiViewProcessor(MultiViewConfig(image_size=16))(image, [[10, 10, 50, 50]])
    for boxes in ([["10", "10", "50", "50.0"]], np.array([[10, 10, 50, 50]], np.int64),
                  torch.tensor([[10.0, 10.0, 50.0, 50.0]])):
        out = MultiViewProcessor(MultiViewConfig(image_size=16))(image, boxes)
        assert torch.equal(out.view_boxes, expected.view_boxes)


def test_thousands_of_regions_in_one_image():
    boxes = np.random.default_rng(0).uniform(0, 40, (2000, 2))
    boxes = np.concatenate([boxes, boxes + 20], axis=1)
    processor = MultiViewProcessor(MultiViewConfig(image_size=16, mode="train", seed=0))
    out = processor(Image.open(asset_path("astronaut.jpg")), boxes)
    # The processor renders every view of every region: R x V x 3 x S x S float32.
    assert out.images.shape == (2000, 3, 3, 16, 16)
    assert torch.isfinite(out.images).all()

    # So an eval dataset hands it at most max_regions_per_sample regions of the image at a time.
    gt = parse_region_annotations({
        "images": [{"id": 1, "file_name": "astronaut.jpg", "width": 512, "height": 512}],
        "annotations": [{"id": k, "image_id": 1, "bbox": box.tolist()}
                        for k, box in enumerate(boxes)]}, "gt.json")
    folder, _ = os.path.split(asset_path("astronaut.jpg"))
    dataset = RegionDataset(gt, folder, processor, level="image", max_regions_per_sample=64)
    samples = [dataset[i] for i in range(len(dataset))]
    assert [len(s["id"]) for s in samples] == [64] * 31 + [16]
    assert max(s["image"].shape[0] for s in samples) == 64
    assert [i for s in samples for i in s["id"]] == list(range(2000))


@pytest.fixture(scope="module")
def tiny_model():
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    return load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")[0]


def test_predict_encodes_at_most_region_chunk_regions_at_a_time(tiny_model, monkeypatch):
    model = tiny_model
    monkeypatch.setattr(model, "config", model.config.replace(region_chunk=4))
    num_regions, views = 6, model.config.region.num_views
    batches = []
    encode = model.vision.forward

    def counting(images):
        batches.append(images.shape[0])
        return encode(images)

    monkeypatch.setattr(model.vision, "forward", counting)
    # Distinct views (share_views would encode equal ones once) at the model's view size.
    size = model.config.vision.image_size
    samples = {"image": torch.rand(num_regions, views, 3, size, size),
               "region_boxes": torch.tensor([20.0, 30.0, 150.0, 120.0]).expand(
                   num_regions, views, 4)}
    short = dataclasses.replace(model.config.generation, max_new_tokens=2)  # a faster test
    assert len(model.predict_answers(samples, generation=short)) == num_regions
    assert batches == [4 * views, 2 * views]


# ----------------------------------------------------------------- annotation files
def test_annotation_file_that_is_not_an_object():
    with pytest.raises(AnnotationFormatError, match="gt.json: top level: must be a JSON object, "
                                                    "got list"):
        parse_region_annotations([], "gt.json")


def test_annotation_box_of_booleans_is_not_numbers():
    data = {"images": [{"id": 1, "file_name": "1.jpg", "width": 10, "height": 10}],
            "annotations": [{"id": 5, "image_id": 1, "bbox": [True, 0, 5, 5]}]}
    with pytest.raises(AnnotationFormatError,
                       match=r"annotation id 5 \(annotations\[0\]\): 'bbox' must be 4 numbers"):
        parse_region_annotations(data, "gt.json")


# ----------------------------------------------------------------- model yaml
def tiny_section() -> dict:
    section = OmegaConf.load(DynReferModel.default_config_path("tiny")).model
    return OmegaConf.to_container(section)


@pytest.mark.parametrize(("path", "value", "message"), [
    (("tag_treshold",), 0.5, "model: unknown key 'tag_treshold' (did you mean 'tag_threshold'?)"),
    (("resampler", "widht"), 64, "model.resampler: unknown key 'widht' (did you mean 'width'?)"),
    (("resampler", "width"), "64", "model.resampler.width: expected int, got '64' (str)"),
    (("vision",), 5, "model.vision: expected a mapping, got int"),
    (("generation", "max_new_tokens"), 2.5, "model.generation.max_new_tokens: expected int"),
])
def test_model_yaml_mistakes_fail_naming_the_key(path, value, message):
    section = tiny_section()
    target = section
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ConfigError) as info:
        DynReferConfig.from_mapping(section)
    assert message in str(info.value)


@pytest.mark.parametrize(("key", "value", "message"), [
    (("tag_list",), "no/such/tags.txt", "no/such/tags.txt not found (looked in"),
    (("language", "vocab_file"), "no/vocab.txt", "no/vocab.txt not found (looked in"),
    (("language", "tokenizer"), "no_such_t5_dir", "language.tokenizer 'no_such_t5_dir' is not "
                                                   "a local directory"),
])
def test_missing_files_named_in_the_model_yaml(key, value, message):
    section = copy.deepcopy(tiny_section())
    target = section
    for part in key[:-1]:
        target = target[part]
    target[key[-1]] = value
    with pytest.raises(FileNotFoundError) as info:
        build_dynrefer(DynReferConfig.from_mapping(section))
    assert message in str(info.value)


# ----------------------------------------------------------------- checkpoints
@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "EOFError"),
    (b"hello, not a checkpoint", "not a torch.save file"),
    ("cut", "truncated"),
])
def test_resume_from_an_unreadable_file_names_it(tmp_path, content, fragment):
    path = tmp_path / "checkpoint_3.pth"
    if content == "cut":
        torch.save({"model": {"w": torch.zeros(1000)}, "epoch": 3}, path)
        content = path.read_bytes()[:400]
    path.write_bytes(content)
    with pytest.raises(RuntimeError, match=f"cannot read checkpoint {path}: .*{fragment}"):
        DynReferRunner._read_checkpoint(str(path))


def test_resume_from_a_file_that_is_not_a_runner_checkpoint(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(RuntimeError, match="is not a runner checkpoint: expected a dict with a "
                                           "'model' state dict, got list"):
        DynReferRunner._read_checkpoint(str(path))
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(RuntimeError, match=r"got dict with keys \['w'\]"):
        DynReferRunner._read_checkpoint(str(path))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_boxes_given_straight_to_the_model_are_refused(bad):
    """torchvision's CPU roi_align would crash the process; the model names the region."""
    import torch
    from lavis.models import load_model_and_preprocess

    model, _, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    boxes = torch.tensor([0.0, 0.0, 224.0, 224.0]).repeat(2, 3, 1)
    boxes[1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"region 1, view 2: box .* not finite or is reversed"):
        model.predict_answers({"image": torch.zeros(2, 3, 3, 224, 224), "region_boxes": boxes})


@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint", b"PK\x03\x04cut"])
def test_unreadable_checkpoint_files_name_the_file(tmp_path, content):
    from lavis_dynrefer.weights.checkpoint_io import CheckpointError, read_checkpoint

    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="broken.pth is not a readable torch checkpoint"):
        read_checkpoint(path)
