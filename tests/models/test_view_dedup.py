"""One ViT pass per distinct view: which views are merged, and outputs unchanged by it."""

import pytest
import torch

from lavis_dynrefer.models.view_dedup import KEY_STRIDE, distinct_views


def test_distinct_views_by_hand():
    a, b, c = torch.zeros(3, 4, 4), torch.ones(3, 4, 4), torch.full((3, 4, 4), 2.0)
    keep, inverse = distinct_views(torch.stack([a, b, a, c, b, a]))
    assert keep.tolist() == [0, 1, 3]
    assert inverse.tolist() == [0, 1, 0, 2, 1, 0]


def test_views_equal_on_the_sampled_values_but_not_elsewhere_stay_apart():
    views = torch.zeros(3, 3, 100, 100)
    views[1].view(-1)[1] = 1.0  # not a multiple of KEY_STRIDE: the key sample cannot see it
    assert 1 % KEY_STRIDE != 0
    keep, inverse = distinct_views(views)
    assert keep.tolist() == [0, 1]
    assert inverse.tolist() == [0, 1, 0]


@pytest.mark.parametrize("num", [0, 1])
def test_empty_and_single(num):
    keep, inverse = distinct_views(torch.zeros(num, 3, 2, 2))
    assert keep.tolist() == inverse.tolist() == list(range(num))


@pytest.fixture(scope="module")
def tiny():
    from lavis.models import load_model_and_preprocess

    torch.manual_seed(0)
    model, vis, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cpu")
    return model, vis


def test_shared_views_give_the_same_outputs_with_fewer_vit_inputs(tiny):
    from PIL import Image

    from lavis_dynrefer.paths import asset_path

    model, vis = tiny
    image = Image.open(asset_path("astronaut.jpg"))
    # a repeated box, a box equal to its own t = 0.1 view's truncation, the whole image
    boxes = [[150, 40, 320, 220], [150, 40, 320, 220], [0, 0, 512, 512], [10, 400, 500, 500],
             [200, 100, 230, 130]]
    views = vis["eval"](image, boxes)
    samples = {"image": views.images, "region_boxes": views.boxes}
    distinct = len(torch.unique(views.view_boxes.reshape(-1, 4), dim=0))
    assert distinct < views.view_boxes.shape[0] * views.view_boxes.shape[1]

    seen = []
    hook = model.vision.register_forward_hook(lambda m, args, out: seen.append(len(args[0])))
    try:
        shared = model.encode_regions(samples["image"], samples["region_boxes"])
        shared_answers = model.predict_answers(samples)
        object.__setattr__(model.config, "share_views", False)
        separate = model.encode_regions(samples["image"], samples["region_boxes"])
        separate_answers = model.predict_answers(samples)
    finally:
        object.__setattr__(model.config, "share_views", True)
        hook.remove()
    num_views = len(boxes) * views.images.shape[1]
    assert seen == [distinct, distinct, num_views, num_views]
    assert torch.equal(shared, separate)
    assert [a["caption"] for a in shared_answers] == [a["caption"] for a in separate_answers]
    assert [a["tags"] for a in shared_answers] == [a["tags"] for a in separate_answers]
