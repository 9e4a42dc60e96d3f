"""Describe a folder of images into one result file, resumably (the command's work).

The result file is the result format's JSON list (data-and-metrics.md section 2) with the
records of ``describe.regions`` and each record's ``file_name``. Images whose file name already
has records in the output are skipped, so an interrupted run goes on where it stopped. The file is
only ever replaced whole (a temporary file in the same folder, then ``os.replace``), after every
``save_every`` images and at the end, also when the run stops on an error or Ctrl-C: it never
holds part of an image's records.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lavis_dynrefer.atomic_files import replaced_atomically
from lavis_dynrefer.cli import CliError
from lavis_dynrefer.describe.api import proposal_boxes
from lavis_dynrefer.describe.inputs import ImageJob
from lavis_dynrefer.describe.regions import ImageRegions, check_boxes, describe_regions
from lavis_dynrefer.processors.image_io import load_image

logger = logging.getLogger("lavis_dynrefer.describe")

MAX_IMAGES_PER_GROUP = 16  # decoded images waiting for one model batch


def read_previous(out: Path) -> list[dict[str, Any]]:
    """The records of an earlier run in ``out`` ([] if there is none); CliError if ``out`` is
    not a result list written by this command."""
    if not out.exists():
        return []
    try:
        records = json.loads(out.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CliError(f"--out {out}: exists but is not valid JSON ({err}); move it away or "
                       "pick another --out") from None
    if not isinstance(records, list) or not all(
            isinstance(r, dict) and isinstance(r.get("file_name"), str) for r in records):
        raise CliError(f"--out {out}: exists but is not a result list of this command (records "
                       "with 'file_name'); move it away or pick another --out")
    return records


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(out: Path, records: Sequence[dict[str, Any]]) -> None:
    """Replace ``out`` with the JSON list ``records`` in one step (no half-written file)."""
    with replaced_atomically(out) as tmp:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(list(records), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # a temporary file is private (0600)


@dataclass
class FolderRun:
    """What a run did: images described, regions written, images skipped as already done, and
    (file name, reason) of every image that failed."""

    described: int = 0
    regions: int = 0
    already_done: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def _prepare(job: ImageJob) -> ImageRegions:
    """The loaded image and checked boxes of a job; ValueError / FileNotFoundError saying why
    it cannot be described."""
    if job.problems:
        raise ValueError("; ".join(job.problems))
    image = load_image(job.path)
    boxes = proposal_boxes(image) if job.boxes is None else job.boxes
    item = ImageRegions(image, boxes, job.image_id, job.ids)
    check_boxes(item)
    return ImageRegions(image, [[float(v) for v in box] for box in boxes], job.image_id,
                        job.ids)


def describe_folder(jobs: Sequence[ImageJob], model, processor, out: Path,
                    vis_dir: Path | None = None, batch_size: int | None = None,
                    save_every: int = 20) -> FolderRun:
    """Describe every job not yet in ``out`` and write ``out`` (module docstring)."""
    from lavis_dynrefer.demo import draw

    records = read_previous(out)
    done = {r["file_name"] for r in records}
    todo = [job for job in jobs if job.name not in done]
    run = FolderRun(already_done=len(jobs) - len(todo))
    if run.already_done:
        logger.info("%d image(s) already in %s: skipped", run.already_done, out)
    batch_size = batch_size or model.config.region_chunk
    group: list[tuple[ImageJob, ImageRegions]] = []
    unsaved = 0

    def flush() -> None:
        nonlocal unsaved
        results = describe_regions(model, processor, [item for _, item in group], batch_size)
        for (job, item), (image_records, _) in zip(group, results):
            records.extend({**r, "file_name": job.name} for r in image_records)
            run.described += 1
            run.regions += len(image_records)
            if vis_dir is not None:
                draw(item.image, image_records).save(vis_dir / f"{job.path.stem}.png")
        unsaved += len(group)
        group.clear()

    try:
        for job in tqdm(todo, desc="describing", unit="image"):
            try:
                item = _prepare(job)
            except (FileNotFoundError, ValueError) as err:
                message = f"{job.name}: {err}"
                logger.warning("skipped %s", message)
                run.failures.append((job.name, message))
                continue
            group.append((job, item))
            # A batch of regions, or enough images held in memory (images with few boxes).
            if (sum(len(i.boxes) for _, i in group) >= batch_size
                    or len(group) >= MAX_IMAGES_PER_GROUP):
                flush()
            if unsaved >= save_every:
                write_atomically(out, records)
                unsaved = 0
        if group:
            flush()
    finally:
        write_atomically(out, records)
    return run
