"""The authors' released files, when a folder of them is named (``weights`` marker).

    DYNREFER_RELEASE_WEIGHTS=/path/to/weights python -m pytest -m weights \
        tests/test_release_weights.py

The folder holds what the release's README lists: ``eva_vit_g.pth``, ``flan-t5-xl/`` (the
Hugging Face folder, tokenizer included), ``blip2_pretrained_flant5xl.pth``,
``eva_clip_psz14.pt``, ``ram_tag_list.txt`` and the DynRefer checkpoints ``refcocog_ft.pth``
and/or ``vg1.2_5e.pth``. Skipped without the variable (no file is ever downloaded). Every file
loads with no missing and no unexpected key, and the demo photo gets finite outputs.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

import lavis_dynrefer  # noqa: F401  (registers the model with LAVIS)
from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.paths import asset_path
from lavis_dynrefer.weights.checkpoint import (
    load_blip2_checkpoint,
    load_eva_vit,
    load_flan_t5,
    load_release_checkpoint,
    load_text_tower,
)

ENV = "DYNREFER_RELEASE_WEIGHTS"
FOLDER = Path(os.environ[ENV]) if os.environ.get(ENV) else None

pytestmark = [
    pytest.mark.weights,
    pytest.mark.skipif(FOLDER is None, reason=f"set {ENV} to a folder of the release's files"),
]


@pytest.fixture(scope="module", params=["refcocog_ft.pth", "vg1.2_5e.pth"])
def released(request):
    checkpoint = FOLDER / request.param
    if not checkpoint.is_file():
        pytest.skip(f"{checkpoint} not in {ENV}")
    section = OmegaConf.load(DynReferModel.default_config_path("release")).model
    section.tag_list = str(FOLDER / "ram_tag_list.txt")
    section.language.tokenizer = str(FOLDER / "flan-t5-xl")
    section.weights = {}
    model = build_dynrefer(DynReferConfig.from_mapping(section))
    reports = [load_eva_vit(model, FOLDER / "eva_vit_g.pth"),
               load_flan_t5(model, FOLDER / "flan-t5-xl"),
               load_blip2_checkpoint(model, FOLDER / "blip2_pretrained_flant5xl.pth"),
               load_text_tower(model, FOLDER / "eva_clip_psz14.pt"),
               load_release_checkpoint(model, checkpoint)]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval(), reports


def test_every_release_file_loads_completely(released):
    model, reports = released
    for report in reports:
        assert not report.missing and not report.unexpected, report.summary()
    assert not any(p.is_meta for p in model.parameters())


def test_demo_photo_outputs_are_finite(released):
    from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor

    model, _ = released
    device = next(model.parameters()).device
    processor = MultiViewProcessor(MultiViewConfig(mode="eval"))
    views = processor(Image.open(asset_path("astronaut.jpg")),
                      [[150, 40, 320, 220], [0, 0, 512, 512]])
    model.set_classes(["person", "flag", "helmet"])
    results = model.predict_answers({"image": views.images.to(device),
                                     "region_boxes": views.boxes.to(device)})
    assert len(results) == 2
    for record in results:
        assert record["caption"].strip() and 0 < record["score"] <= 1
        assert all(math.isfinite(v) for v in [*record["tag_scores"], *record["cls"]])
