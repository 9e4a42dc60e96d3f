"""Ground expressions in an image: which regions does each text refer to?

    python -m lavis_dynrefer.ground --text "the red star" [--text ...]   # the shipped scene
    python -m lavis_dynrefer.ground --image PATH --text "..." [--text ...]
        [--box x1 y1 x2 y2 ... | --proposals FILE] [--threshold T]
        [--model-type shapes|tiny|flant5xl|release] [--checkpoint FILE] [--json] [--out PNG]

Candidates are the ``--box`` boxes, the boxes of a COCO detection-results file
(``[{"image_id", "bbox": [x, y, w, h], "score"}]``; with several images, those whose
``image_id`` is the image's file name without extension, or its number), or without either the
built-in selective-search proposals (``grounding.proposals``). The shipped scene comes with its
own boxes. Prints, per text, the matching boxes by descending probability or that nothing
matches, and saves a picture (``--out``, default ``ground.png``). With ``--json`` stdout is one
JSON list, one object per text: ``text``, ``matches`` (``[{"box", "score"}]``) and the best
score of a non-match. Bad arguments end with one ``error: ...`` line (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from lavis_dynrefer.cli import CliError, check_out_folder, parse_box, run_command
from lavis_dynrefer.data.detections import DetectionFormatError, load_detections, lookup
from lavis_dynrefer.demo import (
    DEFAULT_MODEL_TYPE,
    LEGEND_LINE,
    legend_canvas,
    load_model,
    shipped_scene,
)
from lavis_dynrefer.processors.image_io import ImageLoadError, load_image
from lavis_dynrefer.views import VIEW_COLOURS

logger = logging.getLogger("lavis_dynrefer.ground")


def proposals_from_file(path: str, image_path: str) -> list[list[float]]:
    """XYXY boxes of a COCO detection-results file for ``image_path`` (module docstring), read
    by ``data.detections``; by descending score."""
    try:
        table = load_detections(path)
    except FileNotFoundError:
        raise CliError(f"--proposals {path}: no such file") from None
    except DetectionFormatError as err:
        raise CliError(f"--proposals {err}") from None
    stem = Path(image_path).stem
    # A file of one image's detections serves that image whatever its image_id.
    found = next(iter(table.values())) if len(table) == 1 else lookup(table, image_path)
    if found is None:
        raise CliError(f"--proposals {path}: no detection has image_id {stem!r} (the image's "
                       f"file name without extension)")
    if found.problems:
        raise CliError(f"--proposals {path}: {found.problems[0]}")
    return found.boxes


def ground_image(model, processor, image: Image.Image, boxes: list[list[float]],
                 texts: list[str], threshold: float | None) -> list[dict[str, Any]]:
    """Per text: ``text``, ``matches`` [{"box", "score"}] by descending score, ``best_other``
    (the highest score below the threshold, or None)."""
    views = processor(image, boxes)
    grounded = model.ground({"image": views.images, "region_boxes": views.boxes}, texts,
                            threshold)
    out = []
    for text, result in zip(texts, grounded):
        matched = set(result["matches"])
        others = [s for i, s in enumerate(result["scores"]) if i not in matched]
        out.append({"text": text,
                    "matches": [{"box": boxes[i], "score": result["scores"][i]}
                                for i in result["matches"]],
                    "best_other": max(others) if others else None})
    return out


def format_text(result: dict[str, Any]) -> str:
    lines = [f"{result['text']!r}:"]
    if not result["matches"]:
        best = result["best_other"]
        lines[0] += " no region matches" + (f" (best score {best:.3f})" if best is not None
                                             else "")
    for match in result["matches"]:
        box = ", ".join(f"{v:g}" for v in match["box"])
        lines.append(f"  [{box}]  score {match['score']:.3f}")
    return "\n".join(lines)


def draw(image: Image.Image, results: list[dict[str, Any]], scale: int = 2) -> Image.Image:
    """The image (enlarged) with each text's matches in its colour, and a legend under it."""
    canvas, pen, height = legend_canvas(image, len(results), scale)
    line = LEGEND_LINE
    for t, result in enumerate(results):
        colour = VIEW_COLOURS[t % len(VIEW_COLOURS)]
        for match in result["matches"]:
            x1, y1, x2, y2 = (v * scale for v in match["box"])
            pen.rectangle([x1, y1, x2, y2], outline=colour, width=3)
            label = f"{t}: {match['score']:.2f}"
            pen.rectangle(pen.textbbox((x1 + 3, y1 + 2), label), fill="white")
            pen.text((x1 + 3, y1 + 2), label, fill=colour)
        found = f"{len(result['matches'])} match(es)" if result["matches"] else "no match"
        pen.text((4, height + 4 + line * t), f"{t}: {result['text']} ({found})", fill=colour)
    return canvas


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.ground",
                                     description="Ground expressions in image regions.")
    parser.add_argument("--image", help="image file (default: the shipped shapes scene)")
    parser.add_argument("--text", action="append", required=True,
                        help="an expression to ground (repeatable)")
    candidates = parser.add_mutually_exclusive_group()
    candidates.add_argument("--box", nargs=4, action="append", metavar=("X1", "Y1", "X2", "Y2"),
                            help="a candidate box XYXY in pixels (repeatable)")
    candidates.add_argument("--proposals", help="COCO detection-results file of candidates")
    parser.add_argument("--threshold", type=float,
                        help="matching threshold (default: the model's grounding_threshold)")
    parser.add_argument("--model-type", default=DEFAULT_MODEL_TYPE,
                        help="dynrefer model type (shapes: the shipped model)")
    parser.add_argument("--checkpoint", help="load these weights after building the model")
    parser.add_argument("--out", default="ground.png", help="picture to write (PNG)")
    parser.add_argument("--json", action="store_true", help="print one JSON list on stdout")
    return parser


def run(args: argparse.Namespace) -> str:
    texts = [t.strip() for t in args.text]
    if not all(texts):
        raise CliError("--text: an expression must not be empty")
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise CliError(f"--threshold {args.threshold}: must lie in (0, 1)")
    if args.image is None and (args.box or args.proposals):
        raise CliError("--box / --proposals need --image (the shipped scene comes with its own "
                       "boxes)")
    if args.image is None:
        image_path, boxes = shipped_scene()
    else:
        image_path = args.image
        boxes = ([parse_box(b) for b in args.box] if args.box else
                 proposals_from_file(args.proposals, args.image) if args.proposals else None)
    try:
        image = load_image(image_path)
    except (FileNotFoundError, ImageLoadError) as err:
        raise CliError(str(err)) from None
    if boxes is None:
        from lavis_dynrefer.grounding.proposals import propose_boxes

        boxes = propose_boxes(image).tolist()
        logger.info("%d selective-search proposals", len(boxes))
    out = check_out_folder(args.out)
    model, processor = load_model(args.model_type, args.checkpoint)
    try:
        results = ground_image(model, processor, image, boxes, texts, args.threshold)
    except ValueError as err:
        raise CliError(f"{err} (image {image_path} is {image.width}x{image.height})") from None
    draw(image, results).save(out)
    logger.info("saved %s", out)
    if args.json:
        return json.dumps(results)
    return "\n".join(format_text(r) for r in results)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
