"""Fakes for the task tests: a model with ``predict_answers``, a region dataset, GT files, scorers.

The fake model answers deterministically from each region's id and image id, so metrics are
non-trivial and the same on every run; it remembers what the task told it (attributes, classes,
the tag threshold in force while predicting).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from fake_caption_scores import overlap, pair_scores

from lavis_dynrefer.data.annotations import load_region_annotations

VIEWS, SIZE = 2, 4


@dataclasses.dataclass(frozen=True)
class FakeConfig:
    tag_threshold: float = 0.7


def region_key(ann_id: int | None, bbox: Sequence[float]) -> int:
    """The fake model's answer key: the GT id, or 1000 + x1 + y1 for a proposal (id null)."""
    return int(ann_id) if ann_id is not None else 1000 + int(bbox[0]) + int(bbox[1])


class FakeModel:
    """Stands in for ``DynReferModel``: the same inference interface, no network."""

    def __init__(self, captions: Mapping[int, str] | None = None,
                 scores: Mapping[int, float] | None = None):
        self.config = FakeConfig()
        self.captions = dict(captions or {})
        self.scores = dict(scores or {})
        self.attributes: list[dict] | None = None
        self.classes: list[str] | None = None
        self.thresholds_seen: list[float] = []
        self.before_evaluation_calls = 0

    def before_evaluation(self, **kwargs: Any) -> None:
        self.before_evaluation_calls += 1

    def set_attributes(self, attributes: Sequence[dict]) -> None:
        self.attributes = [dict(a) for a in attributes]

    def set_classes(self, class_names: Sequence[str]) -> None:
        self.classes = list(class_names)

    def predict_answers(self, samples: dict[str, Any], **_: Any) -> list[dict[str, Any]]:
        assert samples["image"].shape[1:] == (VIEWS, 3, SIZE, SIZE)
        self.thresholds_seen.append(self.config.tag_threshold)
        results = []
        for k, (ann_id, image_id) in enumerate(zip(samples["id"], samples["image_id"])):
            key = region_key(ann_id, samples["bbox"][k])
            record = {"caption": self.captions.get(key, "a thing on a table"),
                      "score": self.scores.get(key, 1.0 / (1 + key % 7)),
                      "tags": ["thing"], "tag_scores": [0.9]}
            if self.attributes is not None:
                record["attr"] = [((key * 7 + a * 3) % 10) / 10 for a in
                                  range(len(self.attributes))]
            if self.classes is not None:
                # Class index key % C wins.
                record["cls"] = [2.0 if c == key % len(self.classes) else 0.1 * c
                                 for c in range(len(self.classes))]
            # The real model copies these, converting tensors with .tolist().
            record.update(id=ann_id, image_id=image_id, bbox=samples["bbox"][k])
            results.append(record)
        return results


class RegionDataset(torch.utils.data.Dataset):
    """One item per region, batched to the eval contract by ``collater``."""

    def __init__(self, annotation_path: str | Path, regions: Sequence[dict] | None = None):
        self.annotation_path = str(annotation_path)
        self.annotations = load_region_annotations(annotation_path)
        self.regions = list(regions) if regions is not None else [
            {"id": a.id, "image_id": a.image_id, "bbox": list(a.bbox), "caption": a.caption}
            for a in self.annotations.annotations]

    def __len__(self) -> int:
        return len(self.regions)

    def __getitem__(self, index: int) -> dict:
        return {**self.regions[index], "image": torch.zeros(VIEWS, 3, SIZE, SIZE),
                "region_boxes": torch.tensor([[0.0, 0.0, SIZE, SIZE]] * VIEWS)}

    def collater(self, items: Sequence[dict]) -> dict:
        batch = {key: [item[key] for item in items] for key in ("id", "image_id", "bbox",
                                                               "caption")}
        batch["image"] = torch.stack([item["image"] for item in items])
        batch["region_boxes"] = torch.stack([item["region_boxes"] for item in items])
        batch["image_id"] = torch.tensor(batch["image_id"])  # as default_collate would
        return batch


def loader(dataset: RegionDataset, batch_size: int = 2) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size,
                                       collate_fn=dataset.collater)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def images(*ids: int) -> list[dict]:
    return [{"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100} for i in ids]


CAPTION_GT = {
    "images": images(1, 2),
    "annotations": [
        {"id": 11, "image_id": 1, "bbox": [0, 0, 50, 50], "caption": "a red car"},
        {"id": 12, "image_id": 1, "bbox": [40, 40, 90, 90], "caption": "a man riding a horse"},
        {"id": 21, "image_id": 2, "bbox": [10, 10, 60, 30], "caption": "a blue sky"},
    ],
}

DENSECAP_GT = {
    "images": images(1, 2),
    "annotations": [
        {"id": 11, "image_id": 1, "bbox": [0, 0, 50, 50], "caption": "a red car"},
        {"id": 12, "image_id": 1, "bbox": [60, 60, 90, 90], "caption": "a man riding a horse"},
        {"id": 21, "image_id": 2, "bbox": [10, 10, 60, 30], "caption": "a blue sky"},
    ],
}
# Proposals (id null): near-hits, a miss, and one on the second image.
DENSECAP_PROPOSALS = [
    {"id": None, "image_id": 1, "bbox": [1, 1, 50, 49], "caption": ""},
    {"id": None, "image_id": 1, "bbox": [62, 60, 90, 88], "caption": ""},
    {"id": None, "image_id": 1, "bbox": [0, 60, 20, 99], "caption": ""},
    {"id": None, "image_id": 2, "bbox": [10, 12, 58, 30], "caption": ""},
]

OVAD_ATTRIBUTES = [
    {"id": 0, "name": "color:red", "freq_set": "head", "is_has_att": "has"},
    {"id": 1, "name": "state:wet/damp", "freq_set": "medium"},
    {"id": 2, "name": "texture:smooth", "freq_set": "tail", "is_has_att": "is"},
]
OVAD_GT = {
    "images": images(1, 2),
    "annotations": [
        {"id": 1, "image_id": 1, "bbox": [0, 0, 50, 50], "att_vec": [1, 0, -1]},
        {"id": 2, "image_id": 1, "bbox": [40, 40, 90, 90], "att_vec": [0, 1, 1]},
        {"id": 3, "image_id": 2, "bbox": [10, 10, 60, 30], "att_vec": [1, 1, 0]},
        {"id": 4, "image_id": 2, "bbox": [5, 5, 25, 25], "att_vec": [0, -1, 1]},
    ],
    "attributes": OVAD_ATTRIBUTES,
}

RECOGNITION_GT = {
    "images": images(1, 2),
    "annotations": [
        {"id": 1, "image_id": 1, "bbox": [0, 0, 50, 50], "category_id": 3},
        {"id": 2, "image_id": 1, "bbox": [40, 40, 90, 90], "category_id": 1},
        {"id": 3, "image_id": 2, "bbox": [10, 10, 60, 30], "category_id": 3},
        {"id": 4, "image_id": 2, "bbox": [5, 5, 25, 25], "category_id": 2},
        {"id": 5, "image_id": 2, "bbox": [50, 50, 99, 99], "category_id": 1},
    ],
    # Not sorted by id: the order of ``cls`` is the file's order.
    "categories": [{"id": 3, "name": "dog"}, {"id": 1, "name": "person"},
                   {"id": 2, "name": "bicycle"}],
}


fake_pair_scores = pair_scores


def fake_corpus_scores(references: Mapping[Any, Sequence[str]], candidates: Mapping[Any, str]
                       ) -> dict[str, float]:
    scores = [overlap(candidates[k], references[k]) for k in references]
    exact = [float(candidates[k] in references[k]) for k in references]
    mean = sum(scores) / len(scores)
    return {"METEOR": mean, "CIDEr": 2.0 * mean + sum(exact) / len(exact),
            "BLEU_4": sum(exact) / len(exact), "ROUGE_L": mean ** 0.5}
