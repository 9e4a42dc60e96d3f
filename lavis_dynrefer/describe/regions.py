"""Regions of one or many images through a DynRefer model: the result records of every region.

Shared by ``describe()``, the folder command, the demo and the web page, so all of them give the
same records for the same boxes. A record is the result format (data-and-metrics.md section 2:
``id``, ``image_id``, ``bbox``, ``caption``, ``score``, ``tags``, ``attr``, ``cls``) plus the
readable fields a person wants next to it: ``attributes`` (name -> score, best first),
``class`` (the best class name) and ``views`` (the processor's chosen views, ``t`` and ``box``).
Shape letters: R regions, V views.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from lavis_dynrefer.cli import CliError
from lavis_dynrefer.processors.view_geometry import validate_boxes

logger = logging.getLogger("lavis_dynrefer.describe")

DEFAULT_MODEL_TYPE = "shapes"
RESULT_KEYS = ("id", "image_id", "bbox", "caption", "score", "tags")


def load_model(model_type: str, checkpoint: str | None):
    """The model and its eval processor; CliError for anything that cannot be loaded."""
    from lavis.models import load_model_and_preprocess

    from lavis_dynrefer.models.dynrefer import DynReferModel

    known = sorted(DynReferModel.PRETRAINED_MODEL_CONFIG_DICT)
    if model_type not in known:
        raise CliError(f"--model-type {model_type!r} is not a model type of dynrefer "
                       f"(one of {', '.join(known)})")
    try:
        model, vis, _ = load_model_and_preprocess("dynrefer", model_type, is_eval=True,
                                                  device="cpu")
        if checkpoint:
            if not Path(checkpoint).is_file():
                raise FileNotFoundError(f"--checkpoint {checkpoint}: no such file")
            model.load_checkpoint(checkpoint)
    except (FileNotFoundError, ValueError) as err:
        raise CliError(f"cannot load model type {model_type!r}: {err}") from None
    return model, vis["eval"]


@functools.lru_cache(maxsize=2)
def cached_model(model_type: str = DEFAULT_MODEL_TYPE, checkpoint: str | None = None):
    """``load_model``, loaded once per (type, checkpoint) for the life of the process."""
    logger.info("loading dynrefer %s%s", model_type, f" + {checkpoint}" if checkpoint else "")
    return load_model(model_type, checkpoint)


@dataclass(frozen=True)
class ChosenViews:
    """The views the processor chose for each region of one image (its images are not kept).

    Attributes:
        ts: [R, V] coefficient of each view.
        view_boxes: [R, V, 4] view boxes XYXY in image pixels.
    """

    ts: torch.Tensor
    view_boxes: torch.Tensor


@dataclass(frozen=True)
class ImageRegions:
    """One image and its boxes (R, XYXY pixels), and the ``image_id`` its records get."""

    image: Image.Image
    boxes: list[list[float]]
    image_id: int = 0
    ids: Sequence[int | None] | None = None  # the records' ``id`` (GT annotation ids), or None


def attribute_names(model) -> list[str]:
    """One readable name per attribute of ``model`` (its first synonym), in ``attr`` order."""
    prompts = model.attribute_prompts
    names = [""] * prompts.num_attributes
    for synonym, index in zip(prompts.synonyms, prompts.attribute_index):
        names[index] = names[index] or synonym
    return names


def _record(prediction: dict[str, Any], model, attr_names: list[str] | None,
            ts: torch.Tensor, view_boxes: torch.Tensor) -> dict[str, Any]:
    record = {key: prediction[key] for key in RESULT_KEYS}
    if "attr" in prediction:
        record["attr"] = prediction["attr"]
        if attr_names is not None:
            ranked = sorted(zip(attr_names, prediction["attr"]), key=lambda pair: -pair[1])
            record["attributes"] = dict(ranked)
    if "cls" in prediction:
        record["cls"] = prediction["cls"]
        if model.class_names:
            best = max(range(len(prediction["cls"])), key=lambda i: prediction["cls"][i])
            record["class"] = model.class_names[best]
    record["views"] = [{"t": round(float(t), 6), "box": [int(v) for v in box]}
                       for t, box in zip(ts.tolist(), view_boxes.tolist())]
    return record


def check_boxes(item: ImageRegions) -> None:
    """ValueError naming the box (index and value) that is malformed or empty after clipping."""
    validate_boxes(item.boxes, item.image.width, item.image.height)


def describe_regions(model, processor, items: Sequence[ImageRegions],
                     batch_size: int | None = None
                     ) -> list[tuple[list[dict[str, Any]], ChosenViews]]:
    """Records and chosen views of every region of every image, in input order.

    Regions of consecutive images share model batches of ``batch_size`` regions (default
    ``model.config.region_chunk``); the processor renders at most one batch of views at a time,
    so memory stays bounded for any number of boxes (about 1.8 MB per region at 224 px and 3
    views).

    Raises:
        ValueError: a malformed or empty box, naming it (checked for all images first).
    """
    batch_size = batch_size or model.config.region_chunk
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for item in items:
        check_boxes(item)
    attr_names = attribute_names(model) if model.attribute_prompts is not None else None
    out: list[list[dict[str, Any]]] = [[] for _ in items]
    ts: list[list[torch.Tensor]] = [[] for _ in items]
    view_boxes: list[list[torch.Tensor]] = [[] for _ in items]
    pending: list[tuple[int, Any, list[int | None], list[list[float]]]] = []

    def flush() -> None:
        if not pending:
            return
        samples = {"image": torch.cat([views.images for _, views, _, _ in pending]),
                   "region_boxes": torch.cat([views.boxes for _, views, _, _ in pending]),
                   "id": [i for _, _, ids, _ in pending for i in ids],
                   "image_id": [items[n].image_id for n, _, ids, _ in pending for _ in ids],
                   "bbox": [box for _, _, _, boxes in pending for box in boxes]}
        predictions = iter(model.predict_answers(samples))
        for n, views, _, boxes in pending:
            for r in range(len(boxes)):
                out[n].append(_record(next(predictions), model, attr_names, views.ts[r],
                                      views.view_boxes[r]))
            ts[n].append(views.ts)
            view_boxes[n].append(views.view_boxes)
        pending.clear()

    filled = 0
    for n, item in enumerate(items):
        ids = list(item.ids) if item.ids is not None else [None] * len(item.boxes)
        start = 0
        while start < len(item.boxes):
            take = min(batch_size - filled, len(item.boxes) - start)
            part = item.boxes[start:start + take]
            pending.append((n, processor(item.image, part), ids[start:start + take], part))
            filled += take
            start += take
            if filled == batch_size:
                flush()
                filled = 0
    flush()
    empty = ChosenViews(torch.zeros(0, 0), torch.zeros(0, 0, 4, dtype=torch.long))
    return [(records, ChosenViews(torch.cat(t), torch.cat(v)) if records else empty)
            for records, t, v in zip(out, ts, view_boxes)]
