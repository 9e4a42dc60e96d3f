"""``dedup`` suite: how many of the ViT's view images are distinct (``models.view_dedup``).

For inputs like dense captioning's: the first images of the shapes test split (seed 0) with all
their regions, and Visual Genome-like boxes (``boxes.vg_boxes``:
many small, overlapping) on the benchmark photo at several regions per image. The distinct
fraction is the share of ViT passes left; both the eval processor (pHash-chosen views) and the
training draw (random views) are counted.
"""

from __future__ import annotations

import argparse

import numpy as np

from lavis_dynrefer.benchmark.boxes import vg_boxes
from lavis_dynrefer.benchmark.photo import benchmark_photo
from lavis_dynrefer.benchmark.table import SuiteResult

COLUMNS = ["input", "images", "regions/image", "views", "distinct (eval)", "distinct (train)"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--regions", type=int, nargs="+", default=[8, 64, 256],
                        help="VG-like regions per image (default: 8 64 256)")
    parser.add_argument("--shapes-images", type=int, default=50,
                        help="shapes test-split images to count (made in memory; default 50)")


def distinct_fraction(view_boxes: np.ndarray) -> tuple[int, int]:
    """(distinct, total) view boxes of one image's [R, V, 4] views.

    The processor renders equal boxes to equal pixels and different boxes to different crops,
    so distinct boxes are the distinct view images the ViT sees.
    """
    flat = np.asarray(view_boxes).reshape(-1, 4)
    return len(np.unique(flat, axis=0)), len(flat)


def count(images_and_boxes, label: str) -> dict:
    from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor

    processor = MultiViewProcessor(MultiViewConfig(seed=0))
    totals = {"eval": [0, 0], "train": [0, 0]}
    num_images = num_regions = 0
    for image, boxes in images_and_boxes:
        num_images += 1
        num_regions += len(boxes)
        for mode in ("eval", "train"):
            distinct, total = distinct_fraction(processor.plan(image, boxes, mode=mode).view_boxes)
            totals[mode][0] += distinct
            totals[mode][1] += total
    return {"input": label, "images": num_images,
            "regions/image": num_regions / max(num_images, 1), "views": totals["eval"][1],
            "distinct (eval)": totals["eval"][0] / max(totals["eval"][1], 1),
            "distinct (train)": totals["train"][0] / max(totals["train"][1], 1)}


def shapes_test_images(num_images: int, size: int = 224):
    """(image, boxes) of the first images of the shapes test split, made in memory as
    ``python -m lavis_dynrefer.shapes --seed 0`` makes them, every object a region."""
    from PIL import Image

    from lavis_dynrefer.shapes.writer import make_image

    for index in range(num_images):
        pixels, regions = make_image(0, "test", index, size)
        yield Image.fromarray(pixels), np.array([r["bbox"] for r in regions], np.float64)


def run(args: argparse.Namespace) -> SuiteResult:
    result = SuiteResult("dedup", COLUMNS)
    if args.shapes_images:
        result.rows.append(count(shapes_test_images(args.shapes_images), "shapes test split"))
    photo = benchmark_photo()
    for num in args.regions:
        result.rows.append(count([(photo, vg_boxes(num, *photo.size, seed=num))],
                                 f"VG-like boxes, photo {photo.size[0]}x{photo.size[1]}"))
    result.notes = ["distinct: distinct view images / all R*V view images = ViT passes left "
                    "with share_views (eval: pHash-chosen views; train: random views)"]
    return result
