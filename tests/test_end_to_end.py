"""A real short CPU training + evaluation through LAVIS's runner, for each task, on data the
test writes in the annotation format (tiny model)."""

import json
import math

import numpy as np
import pytest
import yaml
from PIL import Image

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}
SHAPES = ["circle", "square"]


def write_data(root, num_images=4):
    """Images with two coloured shapes each; one annotation file per split with captions,
    categories and OVAD-style attributes, so every task can read it."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    attributes = [{"id": i, "name": f"color:{c}", "freq_set": f, "is_has_att": "has"}
                  for i, (c, f) in enumerate(zip(COLOURS, ["head", "medium", "tail"]))]
    categories = [{"id": i + 1, "name": s} for i, s in enumerate(SHAPES)]
    splits = {"train": [], "val": []}
    ann_id = 1
    for index in range(num_images):
        split = "train" if index < num_images - 1 else "val"
        array = np.full((96, 128, 3), 240, np.uint8)
        image_id = index + 1
        regions = []
        for slot in range(2):
            colour = list(COLOURS)[int(rng.integers(3))]
            shape = SHAPES[slot]
            x1, y1 = 10 + 60 * slot, 20
            array[y1:y1 + 40, x1:x1 + 40] = COLOURS[colour]
            att_vec = [1 if c == colour else 0 for c in COLOURS]
            regions.append({"id": ann_id, "image_id": image_id, "bbox": [x1, y1, x1 + 40, y1 + 40],
                            "caption": f"a {colour} {shape}", "category_id": slot + 1,
                            "att_vec": att_vec})
            ann_id += 1
        Image.fromarray(array).save(root / "images" / f"{image_id}.png")
        splits[split].append(({"id": image_id, "file_name": f"{image_id}.png", "width": 128,
                               "height": 96}, regions))
    paths = {}
    for split, items in splits.items():
        data = {"images": [i for i, _ in items], "annotations": [a for _, r in items for a in r],
                "categories": categories, "attributes": attributes}
        paths[split] = root / f"{split}.json"
        paths[split].write_text(json.dumps(data))
    return paths


CASES = {
    "region_caption": ("vg_reg", ["METEOR", "CIDEr", "BLEU_4", "ROUGE_L"]),
    "densecap": ("vg_densecap", ["map", "detmap"]),
    "ovad": ("ovad", ["ap/all"]),
    "region_recognition": ("coco_recognition", ["accuracy", "mAP"]),
}


@pytest.mark.parametrize("task", list(CASES), ids=list(CASES))
def test_train_then_evaluate_on_cpu(task, tmp_path, monkeypatch):
    from lavis_dynrefer import train

    dataset, metric_keys = CASES[task]
    paths = write_data(tmp_path)
    config = {
        "model": {"arch": "dynrefer", "model_type": "tiny"},
        "datasets": {dataset: {
            "build_info": {"annotations": {"train": {"storage": str(paths["train"])},
                                           "val": {"storage": str(paths["val"])},
                                           "test": None},
                           "images": {"storage": str(tmp_path / "images")}},
            "vis_processor": {"train": {"name": "dynrefer_multi_view", "mode": "train"},
                              "eval": {"name": "dynrefer_multi_view", "mode": "eval"}},
            "text_processor": {"train": {"name": "blip_caption"},
                               "eval": {"name": "blip_caption"}}}},
        "run": {"task": task, "lr_sched": "linear_warmup_cosine_lr", "init_lr": 1e-3,
                "min_lr": 0, "warmup_lr": 1e-4, "warmup_steps": 1, "weight_decay": 0.05,
                "max_epoch": 1, "batch_size_train": 3, "batch_size_eval": 1, "num_workers": 0,
                "seed": 42, "output_dir": "out", "amp": False, "evaluate": False,
                "train_splits": ["train"], "valid_splits": ["val"], "device": "cpu",
                "world_size": 1, "distributed": False, "save_every_epoch": True},
    }
    cfg_path = tmp_path / "run.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)  # the relative output_dir resolves here
    runner = train.main(["--cfg-path", str(cfg_path)])

    output = runner.output_dir
    assert output.is_relative_to(tmp_path / "out")
    assert (output / "checkpoint_0.pth").is_file()
    results = json.loads((runner.result_dir / "val_epoch0.json").read_text())
    assert sorted(r["id"] for r in results) == [7, 8]  # both regions of the val image
    logged = [json.loads(line) for line in (output / "evaluate.txt").read_text().splitlines()]
    metrics = logged[-1]["val"]
    for key in metric_keys:
        value = metrics[key]
        assert value is None or (math.isfinite(value) and 0 <= value <= 100 * (
            10 if key == "CIDEr" else 1)), (key, value)
    assert any(metrics[key] is not None for key in metric_keys)
