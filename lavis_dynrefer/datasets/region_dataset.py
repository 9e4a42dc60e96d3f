"""One dataset class for every region task: region-level for training, image-level for eval.

Shape letters: R regions, V views, S view side.

Training reads one region per sample (the paper trains on batches of regions); evaluation reads
the regions of one image per sample, at most ``max_regions_per_sample`` of them: an image with more
regions becomes several consecutive samples (same image, its regions in file order, split into
runs of that many). A sample's views are rendered at once ([R, V, 3, S, S] float32, about 1.8 MB
per region at S = 224, V = 3), so this bounds an eval sample's memory however many regions (GT
boxes, dense-captioning proposals) an image has; such an image is decoded once per sample. Either
way a sample is a dict of region-batched fields, and ``collate_regions`` concatenates samples along
the region axis into the ``samples`` the model takes:

    image [R, V, 3, S, S], region_boxes [R, V, 4], view_ts [R, V],
    caption / phrases / tags / category_id / att_vec / extra_info / id / image_id / bbox: lists
    of R entries.

Errors are never swallowed: a record that cannot be read raises with the image file, the
annotation id and the reason (the authors' loader retried another sample instead).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from PIL import Image
from torch.utils.data import Dataset

from lavis_dynrefer.data.annotations import RegionAnnotation, RegionAnnotationFile
from lavis_dynrefer.data.phrases import parse_phrases
from lavis_dynrefer.processors.image_io import ImageLoadError, load_image

Level = Literal["region", "image"]

# 64 regions x 3 views at S = 224: about 116 MB of view images per eval sample; one chunk of the
# full model's ``region_chunk`` (64). The builders' ``max_regions_per_sample`` defaults to it.
DEFAULT_MAX_REGIONS_PER_SAMPLE = 64


class RegionDataError(RuntimeError):
    """A sample that cannot be built; the message names the file and the record."""


def split_regions(regions: Sequence[RegionAnnotation], max_regions: int
                  ) -> list[Sequence[RegionAnnotation]]:
    """Consecutive runs of at most ``max_regions`` (>= 1) regions, in order; none for none."""
    return [regions[start:start + max_regions] for start in range(0, len(regions), max_regions)]


def region_phrases(annotation: RegionAnnotation) -> list[str]:
    """The caption's noun/adjective phrases: stored by the converters, else parsed (cached)."""
    stored = annotation.extra_info.get("phrases") if annotation.extra_info else None
    if stored is not None:
        return list(stored)
    return parse_phrases(annotation.caption) if annotation.caption else []


def region_tags(annotation: RegionAnnotation, phrases: Sequence[str]) -> list[str]:
    """The tagging targets: the region's own ``extra_info.tags`` where the file has them (the
    shapes world), else its caption's phrases (the release's targets)."""
    stored = annotation.extra_info.get("tags") if annotation.extra_info else None
    return list(stored) if stored is not None else list(phrases)


def region_sample(image: Image.Image, regions: Sequence[RegionAnnotation],
                  vis_processor: Callable, caption: Callable[[str], str], where: str
                  ) -> dict[str, Any]:
    """The sample of some regions of one image (module docstring), views rendered.

    Args:
        image: the decoded image.
        regions: its regions to include.
        vis_processor: ``MultiViewProcessor``.
        caption: applied to each caption (the text processor).
        where: names the image in errors (file and image id).

    Raises:
        RegionDataError: a box the processor refuses, named with ``where`` and the ids.
    """
    ids = [a.id for a in regions]
    boxes = [list(a.bbox) for a in regions]
    try:
        views = vis_processor(image, boxes)
    except ValueError as err:
        raise RegionDataError(f"{where}, annotation ids {ids[:5]}: {err}") from err
    phrases = [region_phrases(a) for a in regions]
    return {
        "image": views.images,
        "region_boxes": views.boxes,
        "view_ts": views.ts,
        "caption": [caption(a.caption) for a in regions],
        "phrases": phrases,
        # The model keeps those in its tag vocabulary as targets.
        "tags": [region_tags(a, p) for a, p in zip(regions, phrases)],
        # Labels of the region-text decoder's label term (model.loss_weight_rtc_labels).
        "category_id": [a.category_id for a in regions],
        "att_vec": [a.att_vec for a in regions],
        # The free-form facts (the shapes world's towers pre-train on them).
        "extra_info": [dict(a.extra_info or {}) for a in regions],
        "id": ids,
        "image_id": [a.image_id for a in regions],
        "bbox": boxes,
    }


class RegionDataset(Dataset):
    """Regions of an annotation file, as multi-view samples.

    Args:
        annotations: the validated annotation file.
        image_root: folder the images' ``file_name`` are relative to.
        vis_processor: ``MultiViewProcessor`` (called as ``proc(image, boxes)``).
        text_processor: caption processor for training captions (e.g. ``blip_caption``);
            ``None`` keeps captions as they are.
        level: ``region`` (one region per sample, training) or ``image`` (the regions of one
            image per sample, evaluation).
        annotation_path: the GT file, for tasks that score results against it.
        max_regions_per_sample: at ``image`` level, an image with more regions is split into
            consecutive samples of at most this many (>= 1), which bounds a sample's memory.
        eval_regions: at ``image`` level, the regions to describe in place of the GT
            annotations (predicted boxes, ``datasets.proposals``); ``annotations`` stays the GT
            file that the results are scored against.

    Raises:
        ValueError: an unknown level, or ``max_regions_per_sample`` < 1.
    """

    def __init__(self, annotations: RegionAnnotationFile, image_root: str,
                 vis_processor: Callable, text_processor: Callable | None = None,
                 level: Level = "region", annotation_path: str | None = None,
                 max_regions_per_sample: int = DEFAULT_MAX_REGIONS_PER_SAMPLE,
                 eval_regions: Sequence[RegionAnnotation] | None = None):
        if level not in ("region", "image"):
            raise ValueError(f"level must be 'region' or 'image', got {level!r}")
        if (isinstance(max_regions_per_sample, bool) or not isinstance(max_regions_per_sample, int)
                or max_regions_per_sample < 1):
            raise ValueError(f"max_regions_per_sample must be an integer >= 1, got "
                             f"{max_regions_per_sample!r}")
        self.annotations = annotations
        self.annotation_path = annotation_path or annotations.source
        self.image_root = image_root
        self.vis_processor = vis_processor
        self.text_processor = text_processor
        self.level = level
        self.max_regions_per_sample = max_regions_per_sample
        self._images = annotations.image_by_id
        if eval_regions is not None and level != "image":
            raise ValueError("eval_regions (predicted boxes) are for image-level evaluation")
        by_image = annotations.annotations_by_image
        if eval_regions is not None:
            by_image = {}
            for region in eval_regions:
                by_image.setdefault(region.image_id, []).append(region)
        if level == "region":
            self._items: list[Sequence[RegionAnnotation]] = [[a] for a in annotations.annotations]
        else:
            self._items = [chunk for image in annotations.images
                           for chunk in split_regions(by_image.get(image.id, []),
                                                      max_regions_per_sample)]

    def __len__(self) -> int:
        return len(self._items)

    def image_path(self, image_id: int) -> str:
        return os.path.join(self.image_root, self._images[image_id].file_name)

    def _caption(self, caption: str) -> str:
        if self.text_processor is None or not caption:
            return caption
        return self.text_processor(caption)

    def __getitem__(self, index: int) -> dict[str, Any]:
        regions = self._items[index]
        image_id = regions[0].image_id
        path = self.image_path(image_id)
        try:
            image = load_image(path)
        except (FileNotFoundError, ImageLoadError) as err:
            raise RegionDataError(f"{self.annotation_path}: image {image_id} (annotation ids "
                                  f"{[a.id for a in regions][:5]}): {err}") from err
        info = self._images[image_id]
        if image.size != (info.width, info.height):
            raise RegionDataError(
                f"{self.annotation_path}: image {image_id} is {image.width}x{image.height} in "
                f"{path} but {info.width}x{info.height} in the annotation file; its boxes would "
                "be wrong"
            )
        return region_sample(image, regions, self.vis_processor, self._caption,
                             f"{self.annotation_path}: image {image_id}")

    def collater(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """LAVIS calls ``dataset.collater`` as the DataLoader's collate_fn."""
        return collate_regions(samples)


def collate_regions(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Concatenate samples along the region axis (tensors with ``cat``, lists by extending)."""
    if not samples:
        raise ValueError("cannot collate an empty batch")
    out: dict[str, Any] = {}
    for key, first in samples[0].items():
        if isinstance(first, torch.Tensor):
            out[key] = torch.cat([s[key] for s in samples], dim=0)
        else:
            out[key] = [item for s in samples for item in s[key]]
    return out
