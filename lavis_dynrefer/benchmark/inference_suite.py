"""``inference`` suite: regions/s, peak memory and a per-stage breakdown of ``predict_answers``.

For each model type and number of regions per image (boxes of ``boxes.photo_boxes`` on the
benchmark photo): the eval processor's time, ``predict_answers``' time split by
``stage_timer`` (ViT, RoI + align + fusion, Q-Former, tagging, contrastive, generation; "other"
is the rest: chunking, read-out of tags, control words), regions/s of the whole (processor +
model), and the process's peak RSS so far (sizes run in ascending order, so each row's peak is
its own or a smaller one's). ``--device cuda`` also reports peak CUDA memory and the ViT's
achieved TFLOP/s (FLOPs of one view counted by ``FlopCounterMode`` times the views encoded,
over the ViT's time). Models are those ``load_model_and_preprocess`` gives: weights the yaml
names (the shipped shapes checkpoint), random where it names none (tiny, flant5xl).
"""

from __future__ import annotations

import argparse
import logging

import torch

from lavis_dynrefer.benchmark.boxes import photo_boxes
from lavis_dynrefer.benchmark.machine import describe, machine, peak_rss_mib
from lavis_dynrefer.benchmark.photo import benchmark_photo
from lavis_dynrefer.benchmark.stage_timer import STAGES, StageTimer
from lavis_dynrefer.benchmark.table import SuiteResult
from lavis_dynrefer.benchmark.timing import best_of

logger = logging.getLogger(__name__)

STAGE_COLUMNS = ["processor", *STAGES, "other"]  # milliseconds per region
COLUMNS = ["model", "regions/image", "regions/s", *STAGE_COLUMNS, "peak RSS MiB"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-types", nargs="+", default=["shapes", "tiny"],
                        help="model types (default: shapes tiny; flant5xl for --device cuda)")
    parser.add_argument("--regions", type=int, nargs="+", default=[1, 8, 64, 256],
                        help="regions per image (default: 1 8 64 256)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's; 1 is steadier on a busy machine)")


def vit_flops_per_view(model: torch.nn.Module, image_size: int, device: str) -> int:
    """FLOPs (2 x multiply-adds) of one view through ``model.vision``."""
    from torch.utils.flop_counter import FlopCounterMode

    view = torch.zeros(1, 3, image_size, image_size, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.vision(view)
    return counter.get_total_flops()


def measure_model(model_type: str, regions: list[int], device: str, repeats: int
                  ) -> list[dict]:
    from lavis.models import load_model_and_preprocess

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device here")
    model, processors, _ = load_model_and_preprocess("dynrefer", model_type, is_eval=True,
                                                     device=device)
    processor = processors["eval"]
    image = benchmark_photo()
    views_per_region = processor.config.num_views
    flops_per_view = (vit_flops_per_view(model, processor.config.image_size, device)
                      if device.startswith("cuda") else None)
    warm = processor(image, photo_boxes(1, *image.size, seed=99))
    model.predict_answers({"image": warm.images.to(device),
                           "region_boxes": warm.boxes.to(device)})
    rows = []
    for num in sorted(regions):
        boxes = photo_boxes(num, *image.size, seed=num)
        processor_s, views = best_of(lambda boxes=boxes: processor(image, boxes), repeats)
        samples = {"image": views.images.to(device), "region_boxes": views.boxes.to(device)}
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        best = None
        for _ in range(max(1, repeats)):
            timer = StageTimer(model)
            with timer.attached():
                model_s, _ = best_of(lambda s=samples: model.predict_answers(s), 1)
            if best is None or model_s < best[0]:
                best = (model_s, dict(timer.seconds))
        model_s, seconds = best
        row = {"model": model_type, "regions/image": num,
               "regions/s": num / (processor_s + model_s),
               "processor": 1e3 * processor_s / num}
        for stage in STAGES:
            row[stage] = 1e3 * seconds.get(stage, 0.0) / num
        row["other"] = 1e3 * (model_s - sum(seconds.values())) / num
        row["peak RSS MiB"] = peak_rss_mib()
        if device.startswith("cuda"):
            row["peak CUDA MiB"] = torch.cuda.max_memory_allocated() / 2**20
            if seconds.get("vit"):
                row["ViT TFLOP/s"] = flops_per_view * num * views_per_region / seconds["vit"] / 1e12
        rows.append(row)
        logger.info("%s, %d regions: %.1f regions/s", model_type, num, row["regions/s"])
    return rows


def run(args: argparse.Namespace) -> SuiteResult:
    columns = list(COLUMNS)
    if args.device.startswith("cuda"):
        columns += ["peak CUDA MiB", "ViT TFLOP/s"]
    result = SuiteResult("inference", columns)
    if args.threads:
        torch.set_num_threads(args.threads)
    for model_type in args.model_types:
        result.rows.extend(measure_model(model_type, args.regions, args.device, args.repeats))
    info = machine()
    result.notes = [
        f"device {args.device}; photo 800x600, random boxes; best of {args.repeats}; stage "
        "columns in ms per region; other: predict_answers outside the timed stages",
        "ViT TFLOP/s counts every view (R * V), also the ones share_views encodes once",
        describe(info),
    ]
    result.extra = {"machine": info, "device": args.device}
    return result
