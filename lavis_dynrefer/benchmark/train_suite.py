"""``train`` suite: training regions/s on CPU and the share of time outside the model.

Each step: the training processor draws and renders the views of R regions of the benchmark
photo (the data path), then the model runs forward, backward and an AdamW step over its
trainable parameters (the model). The data path should be a small share: if it is not, the
processor, not the model, bounds training.
"""

from __future__ import annotations

import argparse
import time

import torch

from lavis_dynrefer.benchmark.boxes import photo_boxes
from lavis_dynrefer.benchmark.machine import describe, machine
from lavis_dynrefer.benchmark.photo import benchmark_photo
from lavis_dynrefer.benchmark.table import SuiteResult

COLUMNS = ["model", "regions/step", "steps", "regions/s", "data ms/region", "model ms/region",
           "outside model"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-types", nargs="+", default=["tiny", "shapes"])
    parser.add_argument("--regions", type=int, default=16, help="regions per step (one image)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps after one warm-up")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's)")


def measure(model_type: str, regions: int, steps: int) -> dict:
    from lavis.models import load_model_and_preprocess

    model, processors, _ = load_model_and_preprocess("dynrefer", model_type, is_eval=False,
                                                     device="cpu")
    model.train()
    processor = processors["train"]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    image = benchmark_photo()
    data_s = model_s = 0.0
    for step in range(steps + 1):  # step 0 warms up
        start = time.perf_counter()
        boxes = photo_boxes(regions, *image.size, seed=step)
        views = processor(image, boxes)
        samples = {"image": views.images, "region_boxes": views.boxes,
                   "caption": ["a red circle left of the blue square"] * regions,
                   "tags": [["red", "circle"]] * regions}
        middle = time.perf_counter()
        optimizer.zero_grad()
        model(samples)["loss"].backward()
        optimizer.step()
        end = time.perf_counter()
        if step:
            data_s += middle - start
            model_s += end - middle
    total = regions * steps
    return {"model": model_type, "regions/step": regions, "steps": steps,
            "regions/s": total / (data_s + model_s), "data ms/region": 1e3 * data_s / total,
            "model ms/region": 1e3 * model_s / total,
            "outside model": f"{100 * data_s / (data_s + model_s):.1f} %"}


def run(args: argparse.Namespace) -> SuiteResult:
    if args.threads:
        torch.set_num_threads(args.threads)
    result = SuiteResult("train", COLUMNS)
    for model_type in args.model_types:
        result.rows.append(measure(model_type, args.regions, args.steps))
    info = machine()
    result.notes = ["data: training processor (random views, PIL rendering); model: forward + "
                    "backward + AdamW step", describe(info)]
    result.extra = {"machine": info}
    return result
