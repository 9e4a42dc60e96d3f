"""Builders for tiny GT / result files, shared by the metric tests."""

from __future__ import annotations

import shutil

import pytest

from lavis_dynrefer.data.annotations import RegionAnnotationFile, parse_region_annotations
from lavis_dynrefer.evaluation.results import PredictedRegion, parse_results


def _image(spec: int | dict) -> dict:
    if isinstance(spec, dict):
        return spec
    return {"id": spec, "file_name": f"{spec}.jpg", "width": 100, "height": 100}


@pytest.fixture
def make_gt():
    """``make_gt(annotations, images=None, **top_level) -> RegionAnnotationFile`` ("gt.json").

    ``images`` items are image dicts, or ids of 100x100 images; by default the annotated ids.
    """

    def build(annotations: list[dict], images: list[int | dict] | None = None,
              **top_level) -> RegionAnnotationFile:
        if images is None:
            images = sorted({a["image_id"] for a in annotations})
        data = {"images": [_image(i) for i in images], "annotations": annotations, **top_level}
        return parse_region_annotations(data, "gt.json")

    return build


@pytest.fixture
def make_results():
    """``make_results(records) -> [PredictedRegion]`` ("res.json")."""

    def build(records: list[dict]) -> list[PredictedRegion]:
        return parse_results(records, "res.json")

    return build


@pytest.fixture
def java():
    """Skip where Java is missing: pycocoevalcap's METEOR and PTB tokenizer are Java programs."""
    if shutil.which("java") is None:
        pytest.skip("java not found")
