"""Show what the multi-view processor does with an image and its boxes.

    python -m lavis_dynrefer.views --image PATH --box x1 y1 x2 y2 [--box ...] \\
        [--out views.png] [--json] [--hash release|imagehash] [--train --seed N]

Prints, per box, the novelty score of every candidate t and the chosen views (eval-mode selection
unless ``--train``), and saves a picture: one row per box with the image and the chosen view boxes
drawn, then the V resized crops side by side. With ``--json`` stdout is one JSON list, one object
per box in input order: ``{"box", "scores": {"0.1": s, ...}, "chosen_t", "view_boxes"}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from lavis_dynrefer.cli import CliError, check_out_folder, parse_box, run_command
from lavis_dynrefer.processors.image_io import ImageLoadError, load_image
from lavis_dynrefer.processors.multi_view import (
    MultiViewConfig,
    MultiViewProcessor,
    ViewPlan,
)

logger = logging.getLogger("lavis_dynrefer.views")

VIEW_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6"]


def plan_records(boxes: list[list[float]], plan: ViewPlan, candidates: np.ndarray) -> list[dict]:
    """One JSON-ready record per box: its candidate scores and its chosen views."""
    records = []
    for r, box in enumerate(boxes):
        record = {"box": [v if not float(v).is_integer() else int(v) for v in box]}
        if plan.scores is not None:
            record["scores"] = {str(t): float(s) for t, s in zip(candidates, plan.scores[r])}
        record["chosen_t"] = [float(t) for t in plan.ts[r]]
        record["view_boxes"] = plan.view_boxes[r].tolist()
        records.append(record)
    return records


def draw_picture(image: Image.Image, plan: ViewPlan, processor: MultiViewProcessor
                 ) -> Image.Image:
    """One row per region: the image with its view boxes, then the V resized crops."""
    size = processor.config.image_size
    scale = size / max(image.size)
    thumb_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    num_views = plan.view_boxes.shape[1]
    gap = 4
    width = size + gap + num_views * (size + gap)
    rows = max(1, len(plan.view_boxes))
    canvas = Image.new("RGB", (width, rows * (size + gap)), "white")
    for r, views in enumerate(plan.view_boxes):
        top = r * (size + gap)
        thumb = image.resize(thumb_size, Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(thumb)
        for v, box in enumerate(views):
            colour = VIEW_COLOURS[v % len(VIEW_COLOURS)]
            draw.rectangle([c * scale for c in box], outline=colour, width=2 if v else 3)
        canvas.paste(thumb, (0, top))
        for v, box in enumerate(views):
            left = size + gap + v * (size + gap)
            canvas.paste(processor.crop_view(image, box), (left, top))
            label = ImageDraw.Draw(canvas)
            colour = VIEW_COLOURS[v % len(VIEW_COLOURS)]
            label.rectangle([left, top, left + size - 1, top + size - 1], outline=colour, width=3)
            text = f"t={plan.ts[r, v]:.1f}"
            label.rectangle(label.textbbox((left + 6, top + 4), text), fill="white")
            label.text((left + 6, top + 4), text, fill=colour)
    return canvas


def format_table(records: list[dict]) -> str:
    """Human-readable scores and chosen views."""
    lines = []
    for i, record in enumerate(records):
        lines.append(f"box {i} {record['box']}")
        if "scores" in record:
            lines.append("  t:     " + " ".join(f"{t:>6}" for t in record["scores"]))
            lines.append("  score: " + " ".join(f"{s:6.1f}" for s in record["scores"].values()))
        for t, view in zip(record["chosen_t"], record["view_boxes"]):
            lines.append(f"  view t={t:.1f}: {view}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lavis_dynrefer.views",
        description="Show the views DynRefer's processor chooses for image regions.",
    )
    parser.add_argument("--image", required=True, help="image file")
    parser.add_argument("--box", nargs=4, action="append", required=True,
                        metavar=("X1", "Y1", "X2", "Y2"), help="region box XYXY in pixels")
    parser.add_argument("--out", help="save the picture of the chosen views here (PNG)")
    parser.add_argument("--json", action="store_true", help="print one JSON list on stdout")
    parser.add_argument("--hash", choices=["release", "imagehash"], default="release")
    parser.add_argument("--num-views", type=int, default=MultiViewConfig.num_views)
    parser.add_argument("--size", type=int, default=MultiViewConfig.image_size,
                        help="view side S in pixels")
    parser.add_argument("--train", action="store_true",
                        help="draw the extra views at random, as in training")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --train draw")
    return parser


def run(args: argparse.Namespace) -> str:
    """Do the work; returns what goes to stdout."""
    boxes = [parse_box(words) for words in args.box]
    try:
        config = MultiViewConfig(mode="train" if args.train else "eval", num_views=args.num_views,
                                 image_size=args.size, hash=args.hash)
    except ValueError as err:
        raise CliError(str(err)) from None
    processor = MultiViewProcessor(config)
    try:
        image = load_image(args.image)
    except (FileNotFoundError, ImageLoadError) as err:
        raise CliError(str(err)) from None
    try:
        plan = processor.plan(image, boxes, generator=torch.Generator().manual_seed(args.seed))
    except ValueError as err:
        raise CliError(f"{err} (image {args.image} is {image.width}x{image.height})") from None
    records = plan_records(boxes, plan, processor.candidates)
    if args.out:
        out = check_out_folder(args.out)
        draw_picture(image, plan, processor).save(out)
        logger.info("saved %s", out)
    return json.dumps(records) if args.json else format_table(records)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
