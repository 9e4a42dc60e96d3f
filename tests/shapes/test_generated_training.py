"""What the shapes recipe trains on: scenes generated on demand, the facts of stage 1, and the
stage-1 model (the ViT's pre-training)."""

from __future__ import annotations

import torch

from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor
from lavis_dynrefer.shapes.fact_targets import FACT_HEADS, IGNORE, INTRINSIC_HEADS, fact_targets
from lavis_dynrefer.shapes.facts import RELATIONS, ObjectFacts
from lavis_dynrefer.shapes.scene import MAX_OBJECTS
from lavis_dynrefer.shapes.stream import ANNOTATION_ID_STRIDE, GeneratedSceneDataset
from lavis_dynrefer.shapes.towers import HEAD_NAMES, batch_fact_targets
from lavis_dynrefer.shapes.writer import make_image

SIZE = 224


def obj(index, shape, color, cx, cy, radius=15.0, size="medium"):
    return ObjectFacts(index=index, shape=shape, color=color, size=size, fill="solid",
                       rgb=(0, 0, 0), cx=cx, cy=cy, radius=radius, box=(0, 0, 1, 1), visible=1.0,
                       above=frozenset(), below=frozenset(),
                       row=min(int(cy * 3 // SIZE), 2), column=min(int(cx * 3 // SIZE), 2))


def test_fact_targets_by_hand():
    # Two red circles (the left one smaller) and a blue square far to the right.
    a = obj(1, "circle", "red", 30, 100, radius=10, size="small")
    b = obj(2, "circle", "red", 80, 100, radius=20)
    c = obj(3, "square", "blue", 200, 100)
    ta, tb, tc = fact_targets([a, b, c], SIZE)
    assert (ta["shape"], ta["color"], ta["size"], ta["cell"]) == (0, 0, 0, 3)  # middle left
    assert ta["count_same_color"] == 1 and ta["count_same_both"] == 1  # two red circles
    assert tc["count_same_color"] == 0 and tc["count_same_shape"] == 0
    # a's nearest object is b (to its right: a is "left of" b), then c.
    assert ta["near1_shape"] == 0 and ta["near1_relation"] == RELATIONS.index("left of")
    assert ta["near2_shape"] == 1 and ta["near2_color"] == 1
    assert (ta["leftmost_of_shape"], tb["rightmost_of_shape"]) == (1, 1)
    assert (tb["largest_of_color"], ta["smallest_of_color"], ta["largest_of_color"]) == (1, 1, 0)
    # c is the only square and the only blue object: no group to be the extreme of.
    assert tc["largest_of_shape"] == 0 and tc["leftmost_of_color"] == 0
    alone = fact_targets([obj(1, "star", "green", 100, 100)], SIZE)[0]
    assert alone["near1_shape"] == alone["near2_relation"] == IGNORE
    assert set(ta) == set(FACT_HEADS) and INTRINSIC_HEADS < set(FACT_HEADS)
    assert all(0 <= ta[h] < n for h, n in FACT_HEADS.items())


def test_generated_scenes_are_the_training_stream_epoch_by_epoch():
    processor = MultiViewProcessor(MultiViewConfig(mode="train", image_size=32, seed=0))
    data = GeneratedSceneDataset(processor, seed=3, scenes_per_epoch=4, size=64)
    first = data[1]
    pixels, regions = make_image(3, "train", 1, 64)  # scene 1 of the stream of seed 3
    assert first["caption"] == [r["caption"] for r in regions]
    assert first["bbox"] == [r["bbox"] for r in regions]
    assert first["image_id"] == [2] * len(regions)
    assert first["id"] == [2 * ANNOTATION_ID_STRIDE + k for k in range(len(regions))]
    assert first["tags"][0] == regions[0]["extra_info"]["tags"]
    assert first["category_id"][0] == regions[0]["category_id"]
    assert tuple(first["image"].shape[1:]) == (3, 3, 32, 32)
    data.set_epoch(2)
    _, later = make_image(3, "train", 2 * 4 + 1, 64)
    assert data[1]["caption"] == [r["caption"] for r in later]
    batch = data.collater([data[0], data[1]])
    assert len(set(batch["image_id"])) == 2 and len(set(batch["id"])) == len(batch["id"])
    assert ANNOTATION_ID_STRIDE > MAX_OBJECTS


def test_stage1_targets_group_regions_by_image():
    processor = MultiViewProcessor(MultiViewConfig(mode="train", num_views=2, image_size=32,
                                                   seed=0))
    data = GeneratedSceneDataset(processor, seed=0, scenes_per_epoch=3, size=224)
    batch = data.collater([data[i] for i in range(3)])
    targets = batch_fact_targets(batch, 224)
    assert targets.shape == (len(batch["id"]), len(HEAD_NAMES))
    column = HEAD_NAMES.index("count_same_color")
    for row, (image_id, info) in enumerate(zip(batch["image_id"], batch["extra_info"])):
        same = sum(i == image_id and other["color"] == info["color"]
                   for i, other in zip(batch["image_id"], batch["extra_info"]))
        assert targets[row, column] == min(same, 4) - 1


def test_stage1_model_trains_its_vit():
    from omegaconf import OmegaConf

    from lavis_dynrefer.models.dynrefer import DynReferModel
    from lavis_dynrefer.shapes.towers import ShapesTowerPretraining

    cfg = OmegaConf.load(DynReferModel.default_config_path("shapes")).model
    cfg.vision.image_size = 56
    model = ShapesTowerPretraining.from_config(cfg)
    processor = MultiViewProcessor(MultiViewConfig(mode="train", num_views=2, image_size=56,
                                                   seed=0))
    data = GeneratedSceneDataset(processor, seed=0, scenes_per_epoch=2, size=224)
    batch = data.collater([data[0], data[1]])
    out = model(batch)
    assert torch.isfinite(out["loss"]) and 0 <= out["accuracy_cell"] <= 1
    out["loss"].backward()
    assert all(p.grad is not None for p in model.vision.parameters() if p.requires_grad)
    assert {n.split(".")[0] for n, _ in model.named_parameters()} == {"vision", "head"}
