"""``processor`` suite: the view processor against the release-style loop.

For each number of regions per image (boxes of ``boxes.photo_boxes`` on the benchmark photo):
regions/s of ``MultiViewProcessor`` in eval mode (select + render; PIL rendering, and the
opt-in torchvision rendering) and of ``release_loop.release_style_views``, the speed-ups, the
share of regions given the same view boxes, whether the pixels equal the release's bit for bit,
and the time spent choosing views.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from lavis_dynrefer.benchmark.boxes import photo_boxes
from lavis_dynrefer.benchmark.machine import describe, machine
from lavis_dynrefer.benchmark.photo import benchmark_photo
from lavis_dynrefer.benchmark.release_loop import release_style_views
from lavis_dynrefer.benchmark.table import SuiteResult
from lavis_dynrefer.benchmark.timing import best_of
from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor
from lavis_dynrefer.processors.phash import ViewHasher
from lavis_dynrefer.processors.threads import resolve_threads
from lavis_dynrefer.processors.view_geometry import validate_boxes, view_boxes

COLUMNS = ["regions/image", "release regions/s", "processor regions/s", "speed-up",
           "1 thread regions/s", "speed-up (1 thread)",
           "torchvision regions/s", "speed-up (tv)", "same views", "same pixels",
           "tv max |diff|", "select ms/region",
           "release select ms/region", "slow-path hashes"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--regions", type=int, nargs="+", default=[1, 10, 50, 200],
                        help="regions per image (default: 1 10 50 200)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--size", type=int, default=224, help="view side S")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and OpenCV threads (default 1: both sides are loops over "
                             "regions, and spinning threads on a busy machine distort them)")


def run(args: argparse.Namespace) -> SuiteResult:
    import cv2

    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    try:
        return measure(args)
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)


def measure(args: argparse.Namespace) -> SuiteResult:
    image = benchmark_photo()
    exact = MultiViewProcessor(MultiViewConfig(image_size=args.size))
    one = MultiViewProcessor(MultiViewConfig(image_size=args.size, view_threads=1))
    fast = MultiViewProcessor(MultiViewConfig(image_size=args.size, renderer="torchvision"))
    warm = photo_boxes(2, *image.size, seed=99)  # lazy imports and caches
    exact(image, warm), one(image, warm), fast(image, warm)
    release_style_views(image, warm, size=args.size)
    result = SuiteResult("processor", COLUMNS)
    for num in args.regions:
        boxes = photo_boxes(num, *image.size, seed=num)
        release, (release_boxes, release_images) = best_of(
            lambda boxes=boxes: release_style_views(image, boxes, size=args.size), args.repeats)
        total, out = best_of(lambda boxes=boxes: exact(image, boxes), args.repeats)
        total_one, out_one = best_of(lambda boxes=boxes: one(image, boxes), args.repeats)
        total_tv, out_tv = best_of(lambda boxes=boxes: fast(image, boxes), args.repeats)
        select, _ = best_of(lambda boxes=boxes: exact.plan(image, boxes), args.repeats)
        clipped = validate_boxes(boxes, *image.size)
        all_views = view_boxes(clipped, np.concatenate([[0.0], exact.candidates]), *image.size)
        release_select, _ = best_of(lambda v=all_views: ViewHasher(image, fast=False)(v),
                                    args.repeats)
        hasher = ViewHasher(image)
        hasher(all_views)
        same = np.all(out.view_boxes.numpy() == release_boxes, axis=(1, 2))
        result.rows.append({
            "regions/image": num,
            "release regions/s": num / release,
            "processor regions/s": num / total,
            "speed-up": release / total,
            "1 thread regions/s": num / total_one,
            "speed-up (1 thread)": release / total_one,
            "torchvision regions/s": num / total_tv,
            "speed-up (tv)": release / total_tv,
            "same views": f"{int(same.sum())}/{num}",
            "same pixels": bool(torch.equal(out.images, release_images)
                                and torch.equal(out_one.images, release_images)),
            "tv max |diff|": float((out_tv.images - release_images).abs().max()) if num else 0.0,
            "select ms/region": 1e3 * select / num,
            "release select ms/region": 1e3 * release_select / num,
            "slow-path hashes": f"{hasher.num_slow}/{hasher.num_hashed}",
        })
    info = machine()
    result.notes = [
        f"photo: astronaut {image.size[0]}x{image.size[1]}, random boxes 10-300 px, best of "
        f"{args.repeats}; views S = {args.size}; torch and OpenCV threads {args.threads}",
        f"processor: default settings (PIL rendering: the release's pixels, same pixels = "
        f"bit for bit; views rendered on {resolve_threads(None)} threads, view_threads "
        f"auto); 1 thread: view_threads=1; torchvision: the opt-in renderer=torchvision "
        "(tensor resize; tv max |diff| = its largest difference from the release's normalised "
        "pixels)",
        "select: choosing the views (pHash of 11 boxes per region, each distinct box once); "
        "release select: the same boxes hashed by cv2.resize + cv2.dct",
        "same views: regions whose V view boxes equal the release-style loop's; slow-path "
        "hashes: distinct view boxes hashed by cv2 because a coefficient lay within the margin "
        "of the mean",
        describe(info),
    ]
    result.extra = {"machine": info, "image_size": list(image.size), "repeats": args.repeats}
    return result
