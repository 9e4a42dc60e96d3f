"""Describe regions of an image with a DynRefer model: captions, tags, attributes, class, views.

    python -m lavis_dynrefer.demo                       # the shipped model on a shipped scene
    python -m lavis_dynrefer.demo --image PATH --box x1 y1 x2 y2 [--box ...]
        [--model-type shapes|tiny|flant5xl|release] [--checkpoint FILE] [--out demo.png] [--json]

Prints one block per region and saves a PNG with the numbered boxes and their captions. With
``--json`` stdout is one JSON list of the per-region records in the result format
(data-and-metrics.md section 2) with the readable ``attributes``, ``class`` and ``views`` of
``lavis_dynrefer.describe`` (the same records it returns for the same boxes). Bad arguments end
with one ``error: ...`` line (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw

from lavis_dynrefer.cli import CliError, check_out_folder, parse_box, run_command
from lavis_dynrefer.describe.regions import (  # noqa: F401  (load_model: the commands' loader)
    DEFAULT_MODEL_TYPE,
    ChosenViews,
    ImageRegions,
    describe_regions,
    load_model,
)
from lavis_dynrefer.paths import asset_path
from lavis_dynrefer.processors.image_io import ImageLoadError, load_image
from lavis_dynrefer.views import VIEW_COLOURS

logger = logging.getLogger("lavis_dynrefer.demo")

TOP_ATTRIBUTES = 3


def shipped_scene() -> tuple[str, list[list[float]]]:
    """The scene shipped with the package and its region boxes."""
    with open(asset_path("shapes_scene.json"), encoding="utf-8") as handle:
        scene = json.load(handle)
    return asset_path(scene["image"]), scene["boxes"]


def describe(model, processor, image: Image.Image, boxes: list[list[float]]
             ) -> tuple[list[dict[str, Any]], ChosenViews]:
    """Records (``describe.regions``) for the boxes of one image, and the chosen views."""
    return describe_regions(model, processor, [ImageRegions(image, boxes)])[0]


def format_region(index: int, record: dict[str, Any], model, views: ChosenViews) -> str:
    """Human-readable block for one region."""
    lines = [f"region {index} {record['bbox']}",
             f"  caption: {record['caption']}  (score {record['score']:.3f})",
             f"  tags:    {', '.join(record['tags']) or '-'}"]
    if "attributes" in record:
        ranked = list(record["attributes"].items())[:TOP_ATTRIBUTES]
        lines.append("  attributes: " + ", ".join(f"{n} {s:.2f}" for n, s in ranked))
    if "class" in record:
        lines.append(f"  class:   {record['class']}")
    ts = ", ".join(f"{t:.1f}" for t in views.ts[index].tolist())
    lines.append(f"  views:   t = {ts}; boxes {views.view_boxes[index].tolist()}")
    return "\n".join(lines)


LEGEND_LINE = 16


def legend_canvas(image: Image.Image, lines: int, scale: int
                  ) -> tuple[Image.Image, ImageDraw.ImageDraw, int]:
    """(canvas, its pen, the enlarged image's height): the image enlarged ``scale`` times on a
    white canvas with room for ``lines`` legend lines under it."""
    width, height = image.width * scale, image.height * scale
    canvas = Image.new("RGB", (max(width, 420), height + LEGEND_LINE * lines + 8), "white")
    canvas.paste(image.resize((width, height), Image.Resampling.BICUBIC), (0, 0))
    return canvas, ImageDraw.Draw(canvas), height


def draw(image: Image.Image, records: list[dict[str, Any]], scale: int = 2) -> Image.Image:
    """The image (enlarged) with numbered boxes, and a caption legend under it."""
    canvas, pen, height = legend_canvas(image, len(records), scale)
    line = LEGEND_LINE
    for i, record in enumerate(records):
        colour = VIEW_COLOURS[i % len(VIEW_COLOURS)]
        x1, y1, x2, y2 = (v * scale for v in record["bbox"])
        pen.rectangle([x1, y1, x2, y2], outline=colour, width=3)
        pen.rectangle(pen.textbbox((x1 + 3, y1 + 2), str(i)), fill="white")
        pen.text((x1 + 3, y1 + 2), str(i), fill=colour)
        pen.text((4, height + 4 + line * i), f"{i}: {record['caption']}", fill=colour)
    return canvas


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.demo",
                                     description="Describe image regions with DynRefer.")
    parser.add_argument("--image", help="image file (default: the shipped shapes scene)")
    parser.add_argument("--box", nargs=4, action="append", metavar=("X1", "Y1", "X2", "Y2"),
                        help="region box XYXY in pixels (repeatable)")
    parser.add_argument("--model-type", default=DEFAULT_MODEL_TYPE,
                        help="dynrefer model type (shapes: the shipped model)")
    parser.add_argument("--checkpoint", help="load these weights after building the model")
    parser.add_argument("--out", default="demo.png", help="picture to write (PNG)")
    parser.add_argument("--json", action="store_true", help="print one JSON list on stdout")
    return parser


def run(args: argparse.Namespace) -> str:
    if args.image is None and args.box:
        raise CliError("--box needs --image (the shipped scene comes with its own boxes)")
    if args.image is not None and not args.box:
        raise CliError("--image needs at least one --box x1 y1 x2 y2")
    image_path, boxes = (args.image, [parse_box(b) for b in args.box]) if args.image else \
        shipped_scene()
    try:
        image = load_image(image_path)
    except (FileNotFoundError, ImageLoadError) as err:
        raise CliError(str(err)) from None
    out = check_out_folder(args.out)
    model, processor = load_model(args.model_type, args.checkpoint)
    try:
        records, views = describe(model, processor, image, boxes)
    except ValueError as err:
        raise CliError(f"{err} (image {image_path} is {image.width}x{image.height})") from None
    draw(image, records).save(out)
    logger.info("saved %s", out)
    if args.json:
        return json.dumps(records)
    return "\n".join(format_region(i, r, model, views) for i, r in enumerate(records))


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
