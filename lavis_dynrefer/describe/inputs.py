"""The folder command's inputs: which image files, and the boxes of each.

``--images`` takes folders (their image files, by name, not recursive) and files. ``--boxes`` is
either a region annotation file (data-and-metrics.md section 1: ``images`` with ``id`` and
``file_name``, ``annotations`` with ``id``, ``image_id`` and an XYXY ``bbox``), matched by file
name, whose ids the records keep (so the result file scores against it); or a detection-results
list (``data.detections``: COCO's or GRiT's, XYWH), matched by ``image_id`` = the file name
without extension or its number. Without ``--boxes`` every image gets the selective-search
proposals. A bad box marks only its image, which the command then skips and reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lavis_dynrefer.cli import CliError
from lavis_dynrefer.data.annotations import read_json_file
from lavis_dynrefer.data.detections import DetectionFormatError, lookup, parse_detections

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class ImageJob:
    """One image to describe: its file, ``image_id``, boxes (None: proposals), the records'
    ``ids``, and problems found in the boxes file (the image is skipped if there are any)."""

    path: Path
    image_id: int
    boxes: list[list[float]] | None = None
    ids: list[int | None] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name


def image_files(arguments: Sequence[str]) -> list[Path]:
    """The image files named by ``--images`` (folders expanded); CliError for a missing path,
    a folder without images, or two files of the same name."""
    files: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
                raise CliError(f"--images {argument}: no image files ({suffixes}) in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CliError(f"--images {argument}: no such file or folder")
    seen: dict[str, Path] = {}
    for file in files:
        if file.name in seen:
            raise CliError(f"--images: two images named {file.name} ({seen[file.name]} and "
                           f"{file}); the output tells images apart by file name")
        seen[file.name] = file
    return files


def _annotation_boxes(data: Mapping[str, Any], source: str) -> dict[str, ImageJob]:
    images = data.get("images")
    if not isinstance(images, list) or not isinstance(data.get("annotations"), list):
        raise CliError(f"--boxes {source}: expected 'images' and 'annotations' lists (or a JSON "
                       "list of detections)")
    jobs: dict[str, ImageJob] = {}
    by_id: dict[int, ImageJob] = {}
    for i, image in enumerate(images):
        if (not isinstance(image, Mapping) or not isinstance(image.get("id"), int)
                or not isinstance(image.get("file_name"), str)):
            raise CliError(f"--boxes {source}: images[{i}]: expected an object with an integer "
                           f"'id' and a 'file_name', got {image!r}")
        job = ImageJob(Path(image["file_name"]), image["id"], boxes=[], ids=[])
        jobs[Path(image["file_name"]).name] = by_id[image["id"]] = job
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, Mapping) or ann.get("image_id") not in by_id:
            raise CliError(f"--boxes {source}: annotations[{i}]: expected an object whose "
                           f"'image_id' is in 'images', got {ann!r}")
        job, box = by_id[ann["image_id"]], ann.get("bbox")
        if not (isinstance(box, list) and len(box) == 4):
            job.problems.append(f"annotations[{i}]: 'bbox' must be [x1, y1, x2, y2], got {box!r}")
            continue
        job.boxes.append(box)
        job.ids.append(ann.get("id") if isinstance(ann.get("id"), int) else None)
    return jobs


def read_boxes(path: str) -> tuple[str, Any]:
    """(kind, table) of a ``--boxes`` file: ("annotations", file name -> ImageJob) or
    ("detections", image_id -> ImageDetections)."""
    try:
        data = read_json_file(path, CliError)
    except FileNotFoundError:
        raise CliError(f"--boxes {path}: no such file") from None
    if isinstance(data, list):
        try:
            return "detections", parse_detections(data, f"--boxes {path}")
        except DetectionFormatError as err:
            raise CliError(str(err)) from None
    if isinstance(data, Mapping):
        return "annotations", _annotation_boxes(data, path)
    raise CliError(f"--boxes {path}: expected a region annotation object or a list of "
                   "detections")


def plan_jobs(files: Sequence[Path], boxes_path: str | None,
              known_ids: Mapping[str, int]) -> list[ImageJob]:
    """One job per image file. ``known_ids``: file name -> image id already used in the output
    (resumed runs keep them); new images without an id from the boxes file get their number
    (``000123.jpg`` -> 123) or the next unused id."""
    kind, table = read_boxes(boxes_path) if boxes_path else (None, {})
    jobs: list[ImageJob] = []
    for file in files:
        if kind == "annotations":
            job = table.get(file.name)
            if job is None:
                job = ImageJob(file, -1, problems=[f"no entry in 'images' of --boxes "
                                                   f"{boxes_path}"])
            job.path = file
        elif kind == "detections":
            found = lookup(table, file.name)
            stem = file.stem
            job = ImageJob(file, int(stem) if stem.isdigit() else -1)
            if found is None:
                job.problems.append(f"no detection in --boxes {boxes_path} has image_id "
                                    f"{stem!r} (the file name without extension)")
            else:
                job.boxes, job.problems = list(found.boxes), list(found.problems)
        else:
            job = ImageJob(file, int(file.stem) if file.stem.isdigit() else -1)
        if file.name in known_ids:
            job.image_id = known_ids[file.name]
        jobs.append(job)
    used = {job.image_id for job in jobs} | set(known_ids.values())
    next_id = max([i for i in used if i >= 0], default=-1) + 1
    for job in jobs:
        if job.image_id < 0:
            job.image_id, next_id = next_id, next_id + 1
    return jobs
