"""Region datasets through their LAVIS builders, on files written by the test."""

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

import lavis_dynrefer  # noqa: F401  (registers the builders)
from lavis_dynrefer.datasets.region_dataset import RegionDataError, collate_regions

S = 32


def write_split(tmp_path, name="train.json", sizes=((64, 48), (40, 40)), missing_image=False):
    images_dir = tmp_path / "images"
    images_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for i, (w, h) in enumerate(sizes, start=1):
        if not (missing_image and i == 2):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(
                images_dir / f"{i}.png")
        images.append({"id": i, "file_name": f"{i}.png", "width": w, "height": h})
    annotations = [
        {"id": 10, "image_id": 1, "bbox": [1, 2, 30, 40], "caption": "A red car on the road.",
         "extra_info": {"phrases": ["car", "red", "red car", "road"]}},
        {"id": 11, "image_id": 1, "bbox": [20, 5, 60, 45], "caption": "the blue sky"},
        {"id": 12, "image_id": 2, "bbox": [0, 0, 40, 40], "caption": "a dog"},
    ]
    path = tmp_path / name
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return path, images_dir


def builder_config(ann, images_dir, splits=("train", "val")):
    return OmegaConf.create({
        "data_type": "images",
        "build_info": {"annotations": {s: {"storage": str(ann)} for s in splits},
                       "images": {"storage": str(images_dir)}},
        "vis_processor": {"train": {"name": "dynrefer_multi_view", "mode": "train",
                                    "image_size": S},
                          "eval": {"name": "dynrefer_multi_view", "mode": "eval",
                                   "image_size": S}},
        "text_processor": {"train": {"name": "blip_caption"}, "eval": {"name": "blip_caption"}},
    })


def build(name, cfg):
    from lavis.common.registry import registry

    return registry.get_builder_class(name)(cfg).build_datasets()


def test_train_is_region_level_and_eval_image_level(tmp_path):
    ann, images = write_split(tmp_path)
    datasets = build("vg_densecap", builder_config(ann, images))
    train, val = datasets["train"], datasets["val"]
    assert len(train) == 3 and len(val) == 2
    sample = train[0]
    assert sample["image"].shape == (1, 3, 3, S, S)
    assert sample["region_boxes"][0, 0].tolist() == [0, 0, S, S]
    assert sample["caption"] == ["a red car on the road"]  # blip_caption: lower, no punctuation
    assert sample["phrases"] == [["car", "red", "red car", "road"]]  # stored by the converter
    assert sample["id"] == [10] and sample["image_id"] == [1] and sample["bbox"] == [[1, 2, 30, 40]]
    assert train[1]["phrases"] == [["blue", "blue sky", "sky"]]  # parsed when not stored
    first = val[0]
    assert first["image"].shape == (2, 3, 3, S, S) and first["id"] == [10, 11]
    assert val.annotation_path == str(ann) and val.annotations.annotations[0].id == 10


def test_collate_concatenates_regions(tmp_path):
    ann, images = write_split(tmp_path)
    val = build("vg_densecap", builder_config(ann, images))["val"]
    batch = val.collater([val[0], val[1]])
    assert batch["image"].shape == (3, 3, 3, S, S)
    assert batch["id"] == [10, 11, 12] and batch["image_id"] == [1, 1, 2]
    assert batch["view_ts"][:, 0].tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        collate_regions([])


def test_eval_batch_feeds_the_model(tmp_path):
    from lavis.models import load_model_and_preprocess

    ann, images = write_split(tmp_path)
    cfg = builder_config(ann, images)
    cfg.vis_processor.eval.image_size = 224
    val = build("vg_densecap", cfg)["val"]
    model, _, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    results = model.predict_answers(val.collater([val[0], val[1]]))
    assert [r["id"] for r in results] == [10, 11, 12]
    assert results[2]["bbox"] == [0, 0, 40, 40]


def test_missing_image_names_file_and_annotation(tmp_path):
    ann, images = write_split(tmp_path, missing_image=True)
    train = build("vg_densecap", builder_config(ann, images))["train"]
    with pytest.raises(RegionDataError, match=r"image 2 \(annotation ids \[12\]\).*2\.png"):
        train[2]


def test_image_size_mismatch_is_an_error(tmp_path):
    ann, images = write_split(tmp_path, sizes=((64, 48), (40, 40)))
    Image.new("RGB", (41, 40)).save(images / "2.png")
    train = build("vg_densecap", builder_config(ann, images))["train"]
    with pytest.raises(RegionDataError, match="41x40"):
        train[2]


def test_missing_annotation_file_names_the_converter(tmp_path):
    _, images = write_split(tmp_path)
    cfg = builder_config(tmp_path / "nope.json", images, splits=("test",))
    with pytest.raises(FileNotFoundError,
                       match=r"nope\.json.*lavis_dynrefer\.data\.converters\.ovad"):
        build("ovad", cfg)


def test_builders_never_download(tmp_path, monkeypatch):
    from lavis.datasets.builders import base_dataset_builder

    def fail(*args, **kwargs):
        raise AssertionError("download attempted")

    monkeypatch.setattr(base_dataset_builder, "download_url", fail)
    ann, images = write_split(tmp_path)
    assert set(build("refcocog_reg", builder_config(ann, images))) == {"train", "val"}


def test_default_configs_load():
    from lavis.common.registry import registry

    for name in ["vg_densecap", "vg_reg", "refcocog_reg", "ovad", "coco_recognition"]:
        cls = registry.get_builder_class(name)
        cfg = OmegaConf.load(cls.default_config_path()).datasets[name]
        assert "annotations" in cfg.build_info and cfg.vis_processor.eval.name == \
            "dynrefer_multi_view"
        assert cls.CONVERTER.startswith("python -m lavis_dynrefer.data.converters.")


def test_phrases_are_tags_for_the_model(tmp_path):
    ann, images = write_split(tmp_path)
    train = build("vg_densecap", builder_config(ann, images))["train"]
    batch = train.collater([train[0], train[1]])
    assert batch["tags"] == batch["phrases"]
    assert isinstance(batch["image"], torch.Tensor)
