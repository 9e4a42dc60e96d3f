"""The processor's fast paths against the straightforward implementation they replaced.

The reference below is the processor as it was: every box hashed by ``cv2.resize`` + ``cv2.dct``
(``fast_hash=False``), every distinct view cropped, resized by PIL, and normalised as a tensor
(scaled by x * (1/255) as the release's ConvertImageDtype; the processor before divided by 255,
one ulp away for some values). ``benchmark.release_loop`` is the release's own path.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor

ASSETS = Path(__file__).resolve().parents[2] / "lavis_dynrefer" / "assets"


def reference_render(processor: MultiViewProcessor, image: Image.Image, view_boxes: np.ndarray
                     ) -> torch.Tensor:
    config = processor.config
    size = config.image_size
    flat = view_boxes.reshape(-1, 4)
    crops = np.stack([np.asarray(processor.crop_view(image, box)) for box in flat])
    pixels = torch.from_numpy(crops).permute(0, 3, 1, 2).float().mul_(1.0 / 255)
    mean = torch.tensor(config.mean, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(config.std, dtype=torch.float32).view(3, 1, 1)
    return ((pixels - mean) / std).reshape(*view_boxes.shape[:2], 3, size, size)


def photo_boxes(width: int, height: int, count: int, seed: int) -> np.ndarray:
    """Random boxes plus tiny, border, whole-image and repeated ones (float, as callers pass)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (count, 2)) * [width - 2, height - 2]
    wh = rng.uniform(1, 0.6 * min(width, height), (count, 2))
    boxes = np.concatenate([xy, np.minimum(xy + wh, [width, height])], 1)
    special = [[0, 0, width, height], [0, 0, 1.5, 1.5], [width - 1, height - 1, width, height],
               [0.3, 0.7, width - 0.2, 3.9], [width - 2, 0, width + 10, height]]
    return np.concatenate([boxes, special, boxes[:3]])


@pytest.mark.parametrize("name,size", [("astronaut.jpg", (800, 600)), ("shapes_scene.png", None)])
def test_fast_processor_gives_the_reference_views_and_pixels(name, size):
    image = Image.open(ASSETS / name).convert("RGB")
    if size is not None:
        image = image.resize(size)
    boxes = photo_boxes(*image.size, count=25, seed=0)
    fast = MultiViewProcessor(MultiViewConfig())
    slow = MultiViewProcessor(MultiViewConfig(fast_hash=False))
    plan, expected_plan = fast.plan(image, boxes), slow.plan(image, boxes)
    np.testing.assert_array_equal(plan.view_boxes, expected_plan.view_boxes)
    np.testing.assert_array_equal(plan.scores, expected_plan.scores)
    np.testing.assert_array_equal(plan.boxes, expected_plan.boxes)
    np.testing.assert_array_equal(plan.ts, expected_plan.ts)
    images = fast.render(image, plan.view_boxes)
    assert torch.equal(images, reference_render(slow, image, plan.view_boxes))


def test_render_repeated_boxes_and_other_normalisation():
    image = Image.open(ASSETS / "shapes_scene.png").convert("RGB")
    view_boxes = np.array([[[0, 0, 224, 224], [5, 6, 70, 80], [0, 0, 224, 224]],
                           [[5, 6, 70, 80], [0, 0, 1, 1], [0, 0, 224, 224]]], np.int64)
    processor = MultiViewProcessor(MultiViewConfig(image_size=40, mean=(0.1, 0.5, 0.9),
                                                   std=(0.5, 0.25, 2.0)))
    out = processor.render(image, view_boxes)
    assert torch.equal(out, reference_render(processor, image, view_boxes))
    assert torch.equal(out[0, 0], out[1, 2])


@pytest.mark.parametrize("name,size", [("astronaut.jpg", (400, 300)), ("shapes_scene.png", None)])
def test_processor_gives_the_release_loops_views_and_pixels(name, size):
    """The default processor against the release's path (PIL crop through v2 Resize,
    ToImage, ConvertImageDtype, Normalize): the same views and the same float32 pixels."""
    from lavis_dynrefer.benchmark.release_loop import release_style_views

    image = Image.open(ASSETS / name).convert("RGB")
    if size is not None:
        image = image.resize(size)
    boxes = photo_boxes(*image.size, count=8, seed=5)
    out = MultiViewProcessor(MultiViewConfig(image_size=64))(image, boxes)
    release_boxes, release_images = release_style_views(image, boxes, size=64)
    np.testing.assert_array_equal(out.view_boxes.numpy(), release_boxes)
    assert torch.equal(out.images, release_images)
    # The opt-in tensor resize: the same views, pixels a few grey levels off (std ~0.27).
    tv = MultiViewProcessor(MultiViewConfig(renderer="torchvision", image_size=64))(image, boxes)
    np.testing.assert_array_equal(tv.view_boxes.numpy(), release_boxes)
    assert 0 < (tv.images - release_images).abs().max() < 0.2


def test_torchvision_renderer_refuses_a_filter_it_lacks():
    with pytest.raises(ValueError, match="torchvision"):
        MultiViewConfig(renderer="torchvision", interpolation="lanczos")


def test_view_threads_give_the_same_pixels():
    image = Image.open(ASSETS / "astronaut.jpg").convert("RGB").resize((400, 300))
    boxes = photo_boxes(*image.size, count=12, seed=9)
    one = MultiViewProcessor(MultiViewConfig(image_size=48, view_threads=1))(image, boxes)
    three = MultiViewProcessor(MultiViewConfig(image_size=48, view_threads=3))(image, boxes)
    np.testing.assert_array_equal(one.view_boxes.numpy(), three.view_boxes.numpy())
    assert torch.equal(one.images, three.images)
    with pytest.raises(ValueError, match="view_threads"):
        MultiViewConfig(view_threads=0)


def _threads_in_worker(_):
    from lavis_dynrefer.processors.threads import resolve_threads

    return resolve_threads(None)


def test_auto_threads_are_one_inside_a_dataloader_worker():
    from torch.utils.data import DataLoader

    from lavis_dynrefer.processors.threads import resolve_threads

    class Probe(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return _threads_in_worker(i)

    assert resolve_threads(None) >= 1 and resolve_threads(2) == 2
    in_workers = [int(v) for batch in DataLoader(Probe(), num_workers=1, batch_size=1)
                  for v in batch]
    assert in_workers == [1, 1]


def _render_in_child(queue):
    image = Image.open(ASSETS / "shapes_scene.png").convert("RGB")
    out = MultiViewProcessor(MultiViewConfig(image_size=32, view_threads=2))(
        image, [[3, 32, 32, 61], [96, 170, 142, 212]])
    queue.put(out.images.numpy())


def test_a_forked_child_renders_with_threads_after_the_parent_did():
    """The parent's thread pool does not survive fork(): the child makes its own."""
    import multiprocessing

    image = Image.open(ASSETS / "shapes_scene.png").convert("RGB")
    boxes = [[3, 32, 32, 61], [96, 170, 142, 212]]
    parent = MultiViewProcessor(MultiViewConfig(image_size=32, view_threads=2))(image, boxes)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_render_in_child, args=(queue,))
    child.start()
    try:
        pixels = queue.get(timeout=60)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    np.testing.assert_array_equal(pixels, parent.images.numpy())
