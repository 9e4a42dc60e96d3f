"""Describe the regions of a folder of images into one result file.

    python -m lavis_dynrefer.describe --images DIR|FILE [DIR|FILE ...] --out results.json
        [--boxes FILE] [--vis-dir DIR] [--model-type T | --checkpoint P] [--batch-size N]

``--boxes`` (``describe.inputs``): a region annotation file (XYXY, matched by file name; the
records keep its ids, so ``python -m lavis_dynrefer.evaluation region_caption --gt FILE
--results results.json`` scores them) or a COCO/GRiT detection-results list (XYWH, matched by
``image_id`` = file name without extension). Without it: selective-search proposals (dense
captioning). Resumable: images already in ``--out`` are skipped. An unreadable image or a bad
box is reported with the image's name and skipped; the rest is written, and the run ends with
one ``error:`` line and exit status 2 saying how many failed. ``--vis-dir`` gets one picture
per image (the demo's drawing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lavis_dynrefer.cli import CliError, check_out_folder, run_command
from lavis_dynrefer.describe.folder import describe_folder, read_previous
from lavis_dynrefer.describe.inputs import image_files, plan_jobs
from lavis_dynrefer.describe.regions import DEFAULT_MODEL_TYPE, load_model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.describe",
                                     description="Describe the regions of many images into "
                                                 "one result file (JSON).")
    parser.add_argument("--images", nargs="+", required=True,
                        help="image folders and/or image files")
    parser.add_argument("--boxes", help="region annotation file (XYXY) or COCO/GRiT detection "
                                        "results (XYWH); default: proposals")
    parser.add_argument("--out", required=True, help="result file to write (JSON list)")
    parser.add_argument("--vis-dir", help="write one picture per image into this folder")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model-type", help=f"dynrefer model type (default {DEFAULT_MODEL_TYPE}"
                                            ": the shipped model)")
    model.add_argument("--checkpoint", help=f"weights to load into the {DEFAULT_MODEL_TYPE} "
                                            "model")
    parser.add_argument("--batch-size", type=int,
                        help="regions per model batch (default: the model's region_chunk)")
    parser.add_argument("--save-every", type=int, default=20,
                        help="rewrite --out after this many images (default 20)")
    return parser


def run(args: argparse.Namespace) -> str:
    for name in ("batch_size", "save_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CliError(f"--{name.replace('_', '-')} {value}: must be >= 1")
    out = check_out_folder(args.out)
    vis_dir = Path(args.vis_dir) if args.vis_dir else None
    if vis_dir is not None and not vis_dir.is_dir():
        raise CliError(f"--vis-dir {vis_dir}: no such folder")
    previous = read_previous(out)
    known_ids = {r["file_name"]: r["image_id"] for r in previous
                 if isinstance(r.get("image_id"), int)}
    jobs = plan_jobs(image_files(args.images), args.boxes, known_ids)
    model, processor = load_model(args.model_type or DEFAULT_MODEL_TYPE, args.checkpoint)
    run = describe_folder(jobs, model, processor, out, vis_dir, args.batch_size, args.save_every)
    summary = (f"{out}: {run.described} image(s) described ({run.regions} regions), "
               f"{run.already_done} already there, {len(run.failures)} failed")
    if run.failures:
        names = ", ".join(name for name, _ in run.failures[:5])
        more = ", ..." if len(run.failures) > 5 else ""
        raise CliError(f"{summary}: {names}{more} (reasons above)")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
