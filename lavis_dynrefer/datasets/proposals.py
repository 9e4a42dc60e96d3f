"""Predicted boxes in place of GT boxes for dense captioning (the predicted-box protocol).

A proposals file is a detection-results list (``data.detections``: COCO's format, also GRiT's
``vg_instances_results.json``; XYWH in pixels). Its ``image_id`` is the GT file's image id, or
the image's file name without extension. Each image of the GT file gets its detections, by
descending score, at most ``per_image`` of them, clipped to the image (a box empty after
clipping is dropped and counted). They become regions with a null ``id`` (data-and-metrics.md:
predicted regions) and the detector's score in ``extra_info["box_score"]``, which ranks them in
the dense-captioning task, as DenseCap and GRiT rank their boxes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lavis_dynrefer.data.annotations import RegionAnnotation, RegionAnnotationFile
from lavis_dynrefer.data.detections import ImageDetections, load_detections

logger = logging.getLogger(__name__)

BOX_SCORE = "box_score"


def _detections_of(table: dict, image) -> ImageDetections | None:
    for key in (image.id, str(image.id), Path(image.file_name).stem):
        if key in table:
            return table[key]
    return None


def proposal_regions(gt: RegionAnnotationFile, path: str, per_image: int | None = None
                     ) -> list[RegionAnnotation]:
    """The regions to caption: every GT image's detections from ``path`` (module docstring).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a file that is not a detection list, a bad detection (named by index), or
            detections of which none belongs to an image of ``gt``.
    """
    table = load_detections(path)
    regions: list[RegionAnnotation] = []
    used, dropped = set(), 0
    for image in gt.images:
        found = _detections_of(table, image)
        if found is None:
            continue
        if found.problems:
            raise ValueError(f"{path}: {found.problems[0]}")
        used.add(id(found))
        kept = 0
        for box, score in zip(found.boxes, found.scores):
            if per_image is not None and kept >= per_image:
                break
            x1, y1 = max(box[0], 0.0), max(box[1], 0.0)
            x2, y2 = min(box[2], float(image.width)), min(box[3], float(image.height))
            if x2 <= x1 or y2 <= y1:
                dropped += 1
                continue
            regions.append(RegionAnnotation(id=None, image_id=image.id, bbox=(x1, y1, x2, y2),
                                            caption="", category_id=None, att_vec=None,
                                            extra_info={BOX_SCORE: score}))
            kept += 1
    if table and not used:
        raise ValueError(f"{path}: no detection's image_id is an image of {gt.source} (ids like "
                         f"{gt.images[0].id if gt.images else '-'}, or file names without "
                         "extension)")
    others = sum(1 for value in table.values() if id(value) not in used)
    logger.info("%s: %d proposals for %d of %d images; %d empty after clipping dropped, "
                "%d image ids not in %s ignored", path, len(regions),
                len({r.image_id for r in regions}), len(gt.images), dropped, others, gt.source)
    return regions
