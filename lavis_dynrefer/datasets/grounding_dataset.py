"""A grounding file as a LAVIS dataset: one sample per image, with its candidate boxes' views
and the expressions to ground in them (``grounding.formats``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from lavis_dynrefer.grounding.formats import GroundingFile
from lavis_dynrefer.processors.image_io import load_image


class GroundingDataset(Dataset):
    """Samples ``{"image": [R, V, 3, S, S], "region_boxes": [R, V, 4], "candidates": R boxes,
    "expression_ids": T ids, "texts": T expressions}``, one per image with expressions.

    Args:
        grounding: the parsed file; ``annotation_path`` names it in errors.
        image_root: the folder of its ``file_name``s.
        vis_processor: the eval ``MultiViewProcessor``.
    """

    def __init__(self, grounding: GroundingFile, image_root: str, vis_processor: Callable,
                 annotation_path: str | None = None):
        self.grounding = grounding
        self.image_root = Path(image_root)
        self.vis_processor = vis_processor
        self.annotation_path = annotation_path
        by_image: dict[int, list] = {}
        for expression in grounding.expressions:
            by_image.setdefault(expression.image_id, []).append(expression)
        self._images = sorted(by_image)
        self._expressions = by_image

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image_id = self._images[index]
        info = self.grounding.images.get(image_id)
        if info is None or "file_name" not in info:
            raise ValueError(f"{self.annotation_path or self.grounding.source}: image {image_id} "
                             "has no 'file_name' in 'images'")
        candidates = [list(box) for box in self.grounding.candidates(image_id)]
        expressions = self._expressions[image_id]
        if not candidates:
            raise ValueError(f"{self.annotation_path or self.grounding.source}: image {image_id} "
                             "has no candidate boxes (give 'candidates' or targets)")
        views = self.vis_processor(load_image(self.image_root / info["file_name"]), candidates)
        return {"image": views.images, "region_boxes": views.boxes, "candidates": candidates,
                "expression_ids": [e.id for e in expressions],
                "texts": [e.text for e in expressions]}

    def collater(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """A batch is a list of images (their candidate counts differ)."""
        return {"images": list(samples)}
