"""``lavis_dynrefer.describe``: captions, tags, attributes, class and views for the regions of
one or many images, in one call.

    >>> from lavis_dynrefer import describe
    >>> records = describe("photo.jpg", [[10, 20, 200, 300]])          # doctest: +SKIP
    >>> per_image = describe(["a.jpg", "b.jpg"], [[[0, 0, 50, 50]], None])  # doctest: +SKIP

The records are those of ``describe.regions`` (the result format plus ``attributes``,
``class`` and ``views``). Without boxes for an image, its boxes are the built-in selective-search
proposals of the grounding package (dense captioning of an image without boxes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from PIL import Image

from lavis_dynrefer.cli import CliError
from lavis_dynrefer.describe.regions import (
    DEFAULT_MODEL_TYPE,
    ImageRegions,
    cached_model,
    check_boxes,
    describe_regions,
)
from lavis_dynrefer.processors.image_io import load_image, to_rgb

ImageLike = Image.Image | str | os.PathLike
Box = Sequence[float]


def open_image(image: ImageLike) -> Image.Image:
    """An upright RGB image from a PIL image or a path (``load_image``'s errors name the file)."""
    if isinstance(image, Image.Image):
        return to_rgb(image)
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    raise TypeError(f"expected a PIL image or a path, got {type(image).__name__}")


def proposal_boxes(image: Image.Image) -> list[list[float]]:
    """The built-in selective-search proposals of ``image`` (XYXY pixels)."""
    from lavis_dynrefer.grounding.proposals import propose_boxes

    return propose_boxes(image).tolist()


def _is_box(value: Any) -> bool:
    """A box (4 numbers) rather than a list of boxes."""
    try:
        return len(value) == 4 and all(isinstance(float(v), float) for v in value)
    except (TypeError, ValueError):
        return False


def _resolve_model(model: Any, processor: Any):
    if model is None or isinstance(model, str):
        try:
            return cached_model(model or DEFAULT_MODEL_TYPE)
        except CliError as err:  # the commands' wording; a library call gets a ValueError
            raise ValueError(f"model: {err}".replace("--model-type ", "")) from None
    if processor is None:
        raise ValueError("a model object needs its eval processor: describe(..., model=model, "
                         "processor=vis['eval']) as load_model_and_preprocess returns them")
    return model, processor


def describe(images: ImageLike | Sequence[ImageLike],
             boxes: Sequence[Box] | Sequence[Sequence[Box] | None] | None = None,
             model: Any = None, batch_size: int | None = None, processor: Any = None
             ) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
    """Describe the regions of one image or of many.

    Args:
        images: a PIL image or a path, or a list of them.
        boxes: for one image its R boxes XYXY in pixels; for a list, one box list (or None) per
            image. None: the selective-search proposals (dense captioning).
        model: None or a model type (the default ``shapes``, loaded once per process), or a
            loaded DynRefer model together with ``processor`` (its eval processor).
        batch_size: regions per model batch, shared across images (default: the model's
            ``region_chunk``).

    Returns:
        For one image its records; for a list, one record list per image. Record ``image_id``
        is the image's position in the list (0 for one image), ``id`` is None.

    Raises:
        FileNotFoundError, ImageLoadError: an image path that cannot be read (named).
        ValueError: a malformed or empty box (the image and box are named), mismatched lengths.
    """
    single = isinstance(images, (Image.Image, str, os.PathLike))
    image_list = [images] if single else list(images)
    if boxes is None:
        box_lists = [None] * len(image_list)
    elif single:
        if _is_box(boxes):
            raise ValueError(f"boxes: a list of boxes, e.g. [{list(boxes)}], not one box")
        box_lists = [boxes]
    else:
        box_lists = list(boxes)
        if box_lists and _is_box(box_lists[0]):
            raise ValueError("boxes: for a list of images give one list of boxes (or None) per "
                             "image, e.g. [[[x1, y1, x2, y2]], None]; got a flat list of boxes")
        if len(box_lists) != len(image_list):
            raise ValueError(f"boxes: {len(box_lists)} box lists for {len(image_list)} images "
                             "(one list, or None, per image)")
    model, processor = _resolve_model(model, processor)
    items = []
    for n, (image, image_boxes) in enumerate(zip(image_list, box_lists)):
        opened = open_image(image)
        item = ImageRegions(opened, proposal_boxes(opened) if image_boxes is None
                            else list(image_boxes), image_id=n)
        try:
            check_boxes(item)
        except ValueError as err:
            name = f"image {n}" if isinstance(image, Image.Image) else str(image)
            raise ValueError(f"{name}: {err}") from None
        items.append(ImageRegions(opened, [[float(v) for v in box] for box in item.boxes],
                                  image_id=n))
    per_image = [records for records, _ in describe_regions(model, processor, items, batch_size)]
    return per_image[0] if single else per_image
