"""Eval samples hold at most ``max_regions_per_sample`` regions of one image.

An image with more regions (dense-captioning proposals, a crowded VG image) becomes several
consecutive samples; each renders only its own regions' views, so an eval sample's memory is
bounded by the option, not by the image. Every region still reaches the tasks exactly once, and
the records and metrics equal those of unsplit samples.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_caption_scores import overlap, pair_scores
from omegaconf import OmegaConf
from PIL import Image

import lavis_dynrefer  # noqa: F401  (registers the builders and tasks)
from lavis_dynrefer.datasets.region_dataset import RegionDataset
from lavis_dynrefer.evaluation.densecap import evaluate_densecap
from lavis_dynrefer.evaluation.region_caption import evaluate_region_caption
from lavis_dynrefer.tasks import DenseCapTask, RegionCaptionTask
from lavis_dynrefer.tasks.result_files import merge_rank_results, region_key
from lavis_dynrefer.typed_config import ConfigError

UNSPLIT = 10**9
WORDS = ["red", "blue", "green", "small", "large", "circle", "square", "star"]


def write_split(root: Path, regions_per_image: dict[int, int], size=(160, 120)) -> Path:
    """Random images with a row-major grid of distinct small boxes, one caption each."""
    width, height = size
    rng = np.random.default_rng(0)
    (root / "images").mkdir(exist_ok=True)
    images, annotations, ann_id = [], [], 1
    for image_id, count in regions_per_image.items():
        Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(
            root / "images" / f"{image_id}.png")
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": width,
                       "height": height})
        for k in range(count):
            # 4 px steps, 3 box sizes: up to 40 x 30 x 3 distinct boxes on a 160 x 120 image.
            x, y, side = 4 * (k % 38), 4 * (k // 38 % 28), 6 + 2 * (k // (38 * 28))
            caption = f"a {WORDS[k % 3]} {WORDS[3 + k % 2]} {WORDS[5 + k % 3]}"
            annotations.append({"id": ann_id, "image_id": image_id, "caption": caption,
                                "bbox": [x, y, min(x + side, width), min(y + side, height)]})
            ann_id += 1
    path = root / "split.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return path


def build_val(ann: Path, image_size: int, max_regions: int | None = None, mode: str = "eval",
              **extra) -> RegionDataset:
    """The ``val`` split of ``vg_densecap`` through its LAVIS builder."""
    from lavis.common.registry import registry

    section = {
        "data_type": "images",
        "build_info": {"annotations": {"val": {"storage": str(ann)}},
                       "images": {"storage": str(ann.parent / "images")}},
        "vis_processor": {"eval": {"name": "dynrefer_multi_view", "mode": mode,
                                   "image_size": image_size, "seed": 0}},
        **extra,
    }
    if max_regions is not None:
        section["max_regions_per_sample"] = max_regions
    builder = registry.get_builder_class("vg_densecap")(OmegaConf.create(section))
    return builder.build_datasets()["val"]


# ----------------------------------------------------------------- splitting
def test_an_image_with_many_regions_becomes_samples_of_at_most_n(tmp_path):
    ann = write_split(tmp_path, {1: 150, 2: 3})
    chunked = build_val(ann, image_size=32, max_regions=64)
    unsplit = build_val(ann, image_size=32, max_regions=UNSPLIT)
    assert len(unsplit) == 2
    assert len(chunked) == 4
    samples = [chunked[i] for i in range(len(chunked))]
    assert [len(s["id"]) for s in samples] == [64, 64, 22, 3]
    assert [set(s["image_id"]) for s in samples] == [{1}, {1}, {1}, {2}]

    # Together the samples hold the file's regions, each once, in file order.
    gt = chunked.annotations.annotations
    assert [i for s in samples for i in s["id"]] == [a.id for a in gt]
    assert [b for s in samples for b in s["bbox"]] == [list(a.bbox) for a in gt]

    # Each sample renders only its own regions' views: exactly the unsplit sample's rows
    # (view selection is per region), and every region-batched field has its length.
    whole = unsplit[0]
    for sample, rows in zip(samples[:3], [slice(0, 64), slice(64, 128), slice(128, 150)]):
        assert sample["image"].shape == (len(sample["id"]), 3, 3, 32, 32)
        for key in ("image", "region_boxes", "view_ts"):
            assert torch.equal(sample[key], whole[key][rows]), key
        for key in ("caption", "phrases", "id", "bbox"):
            assert sample[key] == whole[key][rows], key
    batch = chunked.collater(samples[:3])
    assert all(torch.equal(batch[k], whole[k]) for k in ("image", "region_boxes", "view_ts"))


def test_the_limit_defaults_to_64_and_is_checked(tmp_path):
    ann = write_split(tmp_path, {1: 150})
    default = build_val(ann, image_size=8)
    assert default.max_regions_per_sample == 64 and len(default) == 3

    with pytest.raises(ConfigError, match=r"datasets\.vg_densecap\.max_regions_per_sample: "
                                          r"must be >= 1, got 0"):
        build_val(ann, image_size=8, max_regions=0)
    with pytest.raises(ConfigError, match=r"max_regions_per_sample: expected int, got 1\.5"):
        build_val(ann, image_size=8, max_regions=1.5)
    with pytest.raises(ConfigError, match=r"datasets\.vg_densecap: unknown key "
                                          r"'max_region_per_sample' \(did you mean "
                                          r"'max_regions_per_sample'\?\)"):
        build_val(ann, image_size=8, max_region_per_sample=16)
    with pytest.raises(ConfigError, match=r"unknown key 'build_infos' \(did you mean "
                                          r"'build_info'\?\)"):
        build_val(ann, image_size=8, build_infos={})
    with pytest.raises(ValueError, match="max_regions_per_sample must be an integer >= 1"):
        RegionDataset(default.annotations, default.image_root, default.vis_processor,
                      level="image", max_regions_per_sample=0)


def test_memory_is_bounded_by_n_not_by_the_regions_of_an_image(tmp_path):
    """1,000 regions on one image: the processor never renders more than N regions at once.

    Not timing based, and not tracemalloc (torch tensors bypass it): the views of a sample are
    one [R, V, 3, S, S] float32 tensor made by one processor call, so bounding R per call bounds
    the memory, whatever the image holds.
    """
    num_regions, limit, size = 1000, 64, 8
    # Random view selection: what is measured is how many regions one call renders; pHash
    # selection (per region, see the first test) would only make the test slower.
    dataset = build_val(write_split(tmp_path, {1: num_regions}), image_size=size,
                        max_regions=limit, mode="train")
    calls = []
    render = dataset.vis_processor

    def counting(image, boxes):
        calls.append(len(boxes))
        return render(image, boxes)

    dataset.vis_processor = counting
    bound = limit * 3 * 3 * size * size * 4  # N x V x 3 x S x S float32 bytes
    largest = 0
    for index in range(len(dataset)):
        image = dataset[index]["image"]
        largest = max(largest, image.nelement() * image.element_size())
    assert sum(calls) == num_regions and len(dataset) == 16
    assert max(calls) == limit and largest <= bound


def test_padding_of_a_distributed_sampler_repeats_a_chunk_that_the_merge_drops(tmp_path):
    """LAVIS pads the eval index list with the first samples; with chunks, a padded sample can be
    part of an image. The merge keys on regions, so every region is still written once."""
    from torch.utils.data import DistributedSampler

    dataset = build_val(write_split(tmp_path, {1: 50, 2: 3}), image_size=8, max_regions=16)
    assert len(dataset) == 5  # 16 + 16 + 16 + 2, then 3: three ranks pad it to 6
    samples = [dataset[index] for index in range(len(dataset))]
    parts = []  # each rank's records, as valid_step makes them (identity fields only)
    for rank in range(3):
        sampler = DistributedSampler(dataset, num_replicas=3, rank=rank, shuffle=False)
        parts.append([{"image_id": image_id, "id": ann_id, "bbox": bbox}
                      for index in sampler
                      for ann_id, image_id, bbox in zip(samples[index]["id"],
                                                        samples[index]["image_id"],
                                                        samples[index]["bbox"])])
    assert sum(map(len, parts)) == 53 + 16  # the first chunk twice
    merged = merge_rank_results(parts, deduplicate=True)
    expected = [(a.image_id, a.id, tuple(a.bbox)) for a in dataset.annotations.annotations]
    assert sorted(map(region_key, merged)) == sorted(expected)


# ----------------------------------------------------------------- evaluation
def _corpus_scores(references, candidates):
    mean = float(np.mean([overlap(candidates[k], references[k]) for k in references]))
    # The random tiny model's captions rarely share a word with the references: CIDEr here is
    # the mean caption length, so that the metrics depend on the captions.
    length = float(np.mean([len(candidates[k].split()) for k in references]))
    return {"METEOR": mean, "CIDEr": length, "BLEU_4": mean ** 2, "ROUGE_L": mean ** 0.5}


# task -> (the task, scoring with pure-Python caption scorers; a metric that must not be 0)
TASKS = {
    "region_caption": (lambda: RegionCaptionTask(
        metric_fn=functools.partial(evaluate_region_caption, scorer=_corpus_scores)), "CIDEr"),
    "densecap": (lambda: DenseCapTask(
        metric_fn=functools.partial(evaluate_densecap, caption_scorer=pair_scores)), "detmap"),
}


@pytest.fixture(scope="module")
def tiny_model():
    """The tiny model, encoding 4 regions per call and writing 3-word captions (a faster test).
    """
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    model = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")[0]
    generation = dataclasses.replace(model.config.generation, max_new_tokens=3)
    model.config = model.config.replace(region_chunk=4, generation=generation)
    return model


def _evaluate(task_name, model, dataset, out: Path, monkeypatch):
    """One evaluation as LAVIS's runner drives it; returns (records, result file, metrics)."""
    from lavis.common.registry import registry

    (out / "result").mkdir(parents=True)
    monkeypatch.setitem(registry.mapping["paths"], "result_dir", str(out / "result"))
    monkeypatch.setitem(registry.mapping["paths"], "output_dir", str(out))
    task = TASKS[task_name][0]()
    task.before_evaluation(model=model, dataset=dataset)
    # One sample per batch, so each model call sees the same regions in both runs.
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, collate_fn=dataset.collater)
    records = task.evaluation(model, loader, cuda_enabled=False)
    metrics = task.after_evaluation(records, "val", 0)
    return records, json.loads((out / "result" / "val_epoch0.json").read_text()), metrics


@pytest.mark.parametrize("task_name", list(TASKS))
def test_records_and_metrics_equal_those_of_unsplit_images(task_name, tiny_model, tmp_path,
                                                           monkeypatch):
    """The tiny model on an image of 6 regions and one of 2, split at N = 4 vs not at all.

    N equals the model's ``region_chunk``, so the model encodes the same groups of regions
    either way and the records are equal to the bit (with other groupings they agree up to float
    rounding of differently shaped products, see ``models/test_dynrefer.py``).
    """
    limit = tiny_model.config.region_chunk
    ann = write_split(tmp_path, {1: limit + 2, 2: 2})
    chunked = build_val(ann, image_size=224, max_regions=limit)
    unsplit = build_val(ann, image_size=224, max_regions=UNSPLIT)
    assert (len(chunked), len(unsplit)) == (3, 2)

    runs = [_evaluate(task_name, tiny_model, dataset, tmp_path / name, monkeypatch)
            for name, dataset in [("chunked", chunked), ("unsplit", unsplit)]]
    (records, written, metrics), (records_1, written_1, metrics_1) = runs
    assert records == records_1 and written == written_1 and metrics == metrics_1
    assert [r["id"] for r in written] == [a.id for a in chunked.annotations.annotations]
    assert metrics[TASKS[task_name][1]] > 0, metrics
