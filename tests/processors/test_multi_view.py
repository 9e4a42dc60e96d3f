"""The registered processor end to end: shapes, pixels, chosen views, modes and configs."""

import cv2
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from scipy.fft import dctn

from lavis_dynrefer.processors import multi_view
from lavis_dynrefer.processors.multi_view import (
    CLIP_MEAN,
    CLIP_STD,
    MultiViewConfig,
    MultiViewProcessor,
)
from lavis_dynrefer.typed_config import ConfigError

S = 32  # a small view side keeps the tests fast; 224 is the default


def processor(**kwargs) -> MultiViewProcessor:
    return MultiViewProcessor(MultiViewConfig(image_size=S, **kwargs))


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def test_zero_boxes_give_empty_outputs():
    out = processor()(Image.new("RGB", (20, 10)), [])
    assert out.images.shape == (0, 3, 3, S, S)
    assert out.boxes.shape == (0, 3, 4)
    assert out.ts.shape == (0, 3)
    assert out.view_boxes.shape == (0, 3, 4)
    assert out.scores.shape == (0, 10)


def test_first_view_is_the_box_and_pixels_are_clip_normalised():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (60, 80, 3), np.uint8))
    out = processor()(image, [[10, 5, 50, 45]])
    assert out.ts[0, 0] == 0
    assert out.view_boxes[0, 0].tolist() == [10, 5, 50, 45]
    assert out.boxes[0, 0].tolist() == [0, 0, S, S]
    crop = np.asarray(image.crop((10, 5, 50, 45)).resize((S, S), Image.Resampling.BICUBIC))
    expected = (crop / 255.0 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    np.testing.assert_allclose(out.images[0, 0].permute(1, 2, 0).numpy(), expected, atol=1e-5)


def test_eval_picks_the_only_views_that_see_something_new():
    # Black 200 x 200 image with a white stripe at x < 10; box (90, 90, 110, 110).
    # A black view hashes to all zeros (every DCT coefficient 0, none > mean 0). A view sees the
    # stripe iff its x1 = 90 - 90 t < 10, i.e. t = 0.9 (x1 = 9) or t = 1.0, so only those two have
    # a non-zero Hamming distance to the t = 0 view and are chosen.
    array = np.zeros((200, 200, 3), np.uint8)
    array[:, :10] = 255
    out = processor()(Image.fromarray(array), [[90, 90, 110, 110]])
    scores = out.scores[0].numpy()
    assert (scores[:8] == 0).all() and (scores[8:] > 0).all()
    assert sorted(out.ts[0, 1:].tolist()) == pytest.approx([0.9, 1.0])
    assert out.scores[0, 8:].max() == scores[int(round(out.ts[0, 1].item() * 10)) - 1]
    assert out.view_boxes[0, 1:].tolist() in (
        [[9, 9, 191, 191], [0, 0, 200, 200]],
        [[0, 0, 200, 200], [9, 9, 191, 191]],
    )


def reference_selection(rgb: np.ndarray, box, k=2):
    """Independent re-derivation of the release's selection (scipy DCT, python loops)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = grey.shape
    b = np.array(box, np.float32)
    image = np.array([0, 0, w, h], np.float32)

    def phash(view):
        x1, y1, x2, y2 = view.astype(np.int64)
        resized = cv2.resize(grey[y1:y2, x1:x2], (224, 224)).astype(np.float64)
        block = dctn(resized, norm="ortho")[:8, :8]
        return block > block.mean()

    h0 = phash(b)
    ts = [(i + 1) / 10 for i in range(10)]
    scores = [np.sum(h0 != phash(b + (image - b) * t)) / t for t in ts]
    order = sorted(range(10), key=lambda n: (-scores[n], n))[:k]
    return [ts[n] for n in order], scores


def test_eval_selection_matches_independent_reference_on_a_photo(astronaut):
    rgb = np.asarray(astronaut)
    boxes = [[150, 40, 320, 220], [0, 0, 100, 100], [300, 300, 420, 510], [200, 100, 230, 130],
             [10, 400, 500, 500]]
    out = processor()(astronaut, boxes)
    for r, box in enumerate(boxes):
        chosen, scores = reference_selection(rgb, box)
        np.testing.assert_allclose(out.scores[r].numpy(), scores)
        assert out.ts[r, 1:].tolist() == pytest.approx(chosen)


def test_each_distinct_view_box_is_hashed_once(astronaut, monkeypatch):
    hashers = []

    class Spy(multi_view.ViewHasher):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            hashers.append(self)

    monkeypatch.setattr(multi_view, "ViewHasher", Spy)
    boxes = [[10 * i, 10 * i, 10 * i + 50, 10 * i + 60] for i in range(20)]
    processor().plan(astronaut, boxes)
    # 20 t = 0 views + 20 x 9 views with t < 1 + the whole image once (shared by all regions).
    assert hashers[0].num_hashed == 20 + 20 * 9 + 1


def test_train_mode_reproducible_from_seed(astronaut):
    boxes = [[50, 60, 120, 200]] * 30
    a = processor(mode="train", seed=3)(astronaut, boxes)
    b = processor(mode="train", seed=3)(astronaut, boxes)
    c = processor(mode="train")(astronaut, boxes, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.ts, b.ts) and torch.equal(a.images, b.images)
    assert not torch.equal(a.ts, c.ts)
    assert a.scores is None
    extra = a.ts[:, 1:]
    assert (extra[:, 0] != extra[:, 1]).all()
    assert set(extra.numpy().reshape(-1).tolist()) <= set(
        np.float32(multi_view.DEFAULT_CANDIDATES).tolist())


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_any_image_mode(mode):
    if mode == "I;16":
        image = Image.fromarray(np.full((20, 30), 30000, np.uint16))
    else:
        image = Image.new("RGB", (30, 20), (200, 10, 10)).convert(mode)
    out = processor()(image, [[2, 2, 12, 12]])
    assert out.images.shape == (1, 3, 3, S, S) and torch.isfinite(out.images).all()


def test_one_pixel_image():
    out = processor()(Image.new("RGB", (1, 1), (5, 5, 5)), [[0, 0, 1, 1], [-5, -5, 9, 9]])
    assert out.view_boxes.tolist() == [[[0, 0, 1, 1]] * 3] * 2
    assert out.ts[:, 1:].reshape(-1).tolist() == pytest.approx([0.1, 0.2] * 2)


def test_bad_box_raises_value_error_naming_it():
    with pytest.raises(ValueError, match=r"box 2: .*reversed"):
        processor()(Image.new("RGB", (30, 20)), [[0, 0, 5, 5], [1, 1, 4, 4], [9, 0, 3, 5]])


def test_imagehash_option(astronaut):
    out = processor(hash="imagehash")(astronaut, [[150, 40, 320, 220]])
    assert out.scores.shape == (1, 10) and out.ts.shape == (1, 3)


def test_configurable_views_and_candidates():
    proc = processor(num_views=2, candidates=[0.25, 0.5])
    out = proc(Image.new("RGB", (40, 40)), [[10, 10, 20, 20]])
    assert out.images.shape == (1, 2, 3, S, S)
    assert out.ts.tolist() == [[0.0, 0.25]]  # all-black: every score 0, tie -> smaller t
    single = processor(num_views=1)(Image.new("RGB", (40, 40)), [[10, 10, 20, 20]])
    assert single.ts.tolist() == [[0.0]]


def test_from_config_reads_yaml_and_rejects_typos():
    cfg = OmegaConf.create({"name": "dynrefer_multi_view", "mode": "train", "image_size": 64,
                            "candidates": [0.5, 1]})
    proc = MultiViewProcessor.from_config(cfg)
    assert proc.config.mode == "train" and proc.config.candidates == (0.5, 1.0)
    with pytest.raises(ConfigError, match="did you mean 'num_views'"):
        MultiViewProcessor.from_config(OmegaConf.create({"num_view": 3}))
    with pytest.raises(ConfigError, match="image_size"):
        MultiViewProcessor.from_config({"image_size": "big"})
    with pytest.raises(ConfigError, match="mode"):
        MultiViewProcessor.from_config({"mode": "test"})
    with pytest.raises(ConfigError, match="strictly increasing"):
        MultiViewProcessor.from_config({"candidates": [0.5, 0.2]})
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        MultiViewProcessor.from_config({"candidates": [0.0, 0.2]})


def test_fixed_mode_takes_every_candidate_for_every_region():
    from PIL import Image

    processor = MultiViewProcessor(MultiViewConfig(mode="fixed", candidates=(0.5, 1.0),
                                                   image_size=16))
    out = processor(Image.new("RGB", (100, 80)), [[10, 10, 30, 30], [60, 40, 90, 70]])
    assert out.ts.tolist() == [[0.0, 0.5, 1.0]] * 2 and out.scores is None
    # b_t = b + t (I - b), truncated: t = 0.5 of (10, 10, 30, 30) is (5, 5, 65, 55).
    assert out.view_boxes[0].tolist() == [[10, 10, 30, 30], [5, 5, 65, 55], [0, 0, 100, 80]]
    with pytest.raises(ValueError, match="every candidate as an extra view: num_views=3 needs 2"):
        MultiViewConfig(mode="fixed", candidates=(0.3, 0.5, 1.0))
