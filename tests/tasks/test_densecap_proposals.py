"""Dense captioning on predicted boxes: the vg_densecap builder reads a GRiT / COCO detection
file in place of the GT boxes, and the densecap task ranks those boxes by the detector's score."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

import lavis_dynrefer  # noqa: F401  (registers the builders and tasks)
from lavis_dynrefer import names
from lavis_dynrefer.tasks import DenseCapTask

GT = {"images": [{"id": 1, "file_name": "1.png", "width": 64, "height": 48},
                 {"id": 2, "file_name": "2.png", "width": 40, "height": 40}],
      "annotations": [{"id": 10, "image_id": 1, "bbox": [0, 0, 30, 40], "caption": "a red car"},
                      {"id": 11, "image_id": 1, "bbox": [34, 4, 64, 44],
                       "caption": "the blue sky"},
                      {"id": 20, "image_id": 2, "bbox": [0, 0, 40, 40], "caption": "a dog"}]}
# GRiT's vg_instances_results.json layout: XYWH boxes, category_id, object_descriptions.
GRIT = [
    {"image_id": 1, "category_id": 1, "bbox": [0, 0, 30, 40], "score": 0.6,
     "object_descriptions": "car"},
    {"image_id": 1, "category_id": 1, "bbox": [34, 4, 30, 40], "score": 0.4,
     "object_descriptions": "sky"},
    {"image_id": 1, "category_id": 1, "bbox": [2, 30, 20, 18], "score": 0.9,  # a miss
     "object_descriptions": "road"},
    {"image_id": 1, "category_id": 1, "bbox": [70, 0, 5, 5], "score": 0.95,  # off the image
     "object_descriptions": "none"},
    {"image_id": 2, "category_id": 1, "bbox": [0, 0, 40, 50], "score": 0.7,
     "object_descriptions": "dog"},
    {"image_id": 99, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.7,  # not a GT image
     "object_descriptions": "x"},
]
CAPTIONS = {(0.0, 0.0): "a red car", (34.0, 4.0): "the blue sky", (2.0, 30.0): "a red car",
            (0.0, 0.0, 2): "a dog"}


class CaptionByBox:
    """Captions known by box corner; the caption score ranks the miss last (0.1)."""

    config = type("Config", (), {"tag_threshold": 0.7})()

    def before_evaluation(self, **_):
        pass

    def predict_answers(self, samples, **_):
        out = []
        for image_id, box in zip(samples["image_id"], samples["bbox"]):
            key = (box[0], box[1], 2) if int(image_id) == 2 else (box[0], box[1])
            out.append({"caption": CAPTIONS[key], "tags": [], "tag_scores": [],
                        "score": 0.1 if key == (2.0, 30.0) else 0.9})
        return out


def build(tmp_path, **options):
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for image in GT["images"]:
        Image.fromarray(rng.integers(0, 256, (image["height"], image["width"], 3),
                                     np.uint8)).save(images / image["file_name"])
    (tmp_path / "gt.json").write_text(json.dumps(GT))
    (tmp_path / "grit.json").write_text(json.dumps(GRIT))
    cfg = OmegaConf.create({
        "data_type": "images",
        "build_info": {"annotations": {"test": {"storage": str(tmp_path / "gt.json")}},
                       "images": {"storage": str(images)}},
        "vis_processor": {"train": {"name": "dynrefer_multi_view", "image_size": 32},
                          "eval": {"name": "dynrefer_multi_view", "mode": "eval",
                                   "image_size": 32}},
        "text_processor": {"train": {"name": "blip_caption"}, "eval": {"name": "blip_caption"}},
        **options})
    from lavis.common.registry import registry

    return registry.get_builder_class(names.DATASET_VG_DENSECAP)(cfg).build_datasets()["test"]


def test_the_proposals_replace_the_gt_boxes(tmp_path):
    dataset = build(tmp_path, proposals=str(tmp_path / "grit.json"))
    samples = [dataset[i] for i in range(len(dataset))]
    boxes = [region for s in samples for region in zip(s["image_id"], s["id"], s["bbox"])]
    assert boxes == [(1, None, [2.0, 30.0, 22.0, 48.0]), (1, None, [0.0, 0.0, 30.0, 40.0]),
                     (1, None, [34.0, 4.0, 64.0, 44.0]), (2, None, [0.0, 0.0, 40.0, 40.0])]
    assert [a.id for a in dataset.annotations.annotations] == [10, 11, 20]  # still the GT
    capped = build(tmp_path, proposals=str(tmp_path / "grit.json"), proposals_per_image=1)
    assert [len(capped[i]["bbox"]) for i in range(len(capped))] == [1, 1]


def test_the_detector_score_ranks_the_predicted_boxes(tmp_path, lavis_dirs, fake_scorers,
                                                      run_command):
    dataset = build(tmp_path, proposals=str(tmp_path / "grit.json"))
    task = DenseCapTask()
    task.before_evaluation(model=CaptionByBox(), dataset=dataset)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=dataset.collater)
    results = task.evaluation(CaptionByBox(), loader, cuda_enabled=False)
    assert sorted(r["score"] for r in results) == [0.4, 0.6, 0.7, 0.9]  # the box scores
    metrics = task.after_evaluation(val_result=results, split_name="test", epoch=0)
    # The miss has the best box score: every threshold's precision starts at 0, so the AP is
    # below 100; ranked by the caption scores (miss last) it would be 100.
    assert metrics["map"] < 100.0 and metrics["detmap"] < 100.0
    written = next(lavis_dirs["result_dir"].glob("test_epoch0*.json"))
    assert run_command("densecap", tmp_path / "gt.json", written)["map"] == pytest.approx(
        metrics["map"])
    for result in results:
        result["score"] = 0.1 if result["bbox"][:2] == [2.0, 30.0] else 0.9
    rescored = tmp_path / "rescored.json"
    rescored.write_text(json.dumps(results))
    assert run_command("densecap", tmp_path / "gt.json", rescored)["map"] == pytest.approx(100.0)


@pytest.mark.parametrize("detections, fragment", [
    ([{"image_id": 1, "bbox": [0, 0, -3, 4], "score": 0.5}], "detection 0: expected 'bbox'"),
    ([{"image_id": 5, "bbox": [0, 0, 3, 4], "score": 0.5}], "no detection's image_id"),
    ({"image_id": 1}, "expected a JSON list of detections"),
])
def test_bad_proposal_files_are_named(tmp_path, detections, fragment):
    (tmp_path / "bad.json").write_text(json.dumps(detections))
    with pytest.raises(ValueError, match=fragment):
        build(tmp_path, proposals=str(tmp_path / "bad.json"))


def test_a_missing_proposals_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="datasets.vg_densecap.proposals: no such file"):
        build(tmp_path, proposals=str(tmp_path / "nope.json"))
