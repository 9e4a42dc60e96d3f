"""The linear-map pHash against OpenCV and the release's per-box hash (the reference)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lavis_dynrefer.processors.phash import ViewHasher, release_phash_of_array
from lavis_dynrefer.processors.phash_linear import (
    DEFAULT_MARGIN,
    dct_rows,
    release_blocks,
    release_hashes,
    resize_matrix,
)

ASSETS = Path(__file__).resolve().parents[2] / "lavis_dynrefer" / "assets"


def grey(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    image = Image.open(ASSETS / name).convert("RGB")
    if size is not None:
        image = image.resize(size)
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)


def random_boxes(height: int, width: int, count: int, seed: int) -> np.ndarray:
    """Boxes of every kind: large, tiny (1-3 px), on the borders, the whole image."""
    rng = np.random.default_rng(seed)
    boxes = [(0, 0, width, height), (0, 0, 1, 1), (width - 1, height - 1, width, height),
             (0, 0, width, 1), (width - 1, 0, width, height),
             (0, 0, min(448, width), min(448, height))]
    for i in range(count):
        x1, y1 = int(rng.integers(0, width)), int(rng.integers(0, height))
        if i % 3 == 0:
            x2 = min(width, x1 + int(rng.integers(1, 4)))
            y2 = min(height, y1 + int(rng.integers(1, 4)))
        else:
            x2, y2 = int(rng.integers(x1 + 1, width + 1)), int(rng.integers(y1 + 1, height + 1))
        boxes.append((x1, y1, x2, y2))
    return np.array(boxes, np.int64)


def reference(gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    return np.stack([release_phash_of_array(gray[y1:y2, x1:x2]) for x1, y1, x2, y2 in boxes])


@pytest.mark.parametrize("side", [1, 2, 3, 7, 100, 223, 224, 225, 447, 448, 449, 600, 800])
def test_resize_matrix_is_opencvs_bilinear(side):
    # cv2.resize of the identity along one axis yields its interpolation weights, column by column.
    expected = cv2.resize(np.eye(side, dtype=np.float32), (side, 224))
    np.testing.assert_array_equal(resize_matrix(side), expected.astype(np.float64))


def test_dct_rows_are_opencvs_dct():
    rows = dct_rows()
    for n in (0, 1, 111, 223):
        impulse = np.zeros((1, 224), np.float32)
        impulse[0, n] = 1.0
        np.testing.assert_allclose(rows[:, n], cv2.dct(impulse)[0, :8], atol=1e-6)
    # hand-computed: the DC row is 1 / sqrt(224) everywhere; row 1 starts at sqrt(2/224) cos(pi/448)
    np.testing.assert_allclose(rows[0], np.full(224, 224 ** -0.5))
    assert rows[1, 0] == pytest.approx(np.sqrt(2 / 224) * np.cos(np.pi / 448))


@pytest.mark.parametrize("name,size", [("astronaut.jpg", (800, 600)), ("astronaut.jpg", None),
                                       ("shapes_scene.png", None)])
def test_blocks_within_a_thirtieth_of_the_margin_of_the_release(name, size):
    gray = grey(name, size)
    boxes = random_boxes(*gray.shape, count=150, seed=1)
    blocks = release_blocks(gray.astype(np.float64), boxes)
    for box, block in zip(boxes, blocks):
        x1, y1, x2, y2 = box
        release = cv2.dct(cv2.resize(gray[y1:y2, x1:x2], (224, 224)))[:8, :8]
        assert np.abs(release - block).max() < DEFAULT_MARGIN / 30, box


@pytest.mark.parametrize("name,size", [("astronaut.jpg", (800, 600)), ("astronaut.jpg", None),
                                       ("shapes_scene.png", None)])
def test_hashes_are_the_release_bits_on_photos(name, size):
    gray = grey(name, size)
    boxes = random_boxes(*gray.shape, count=400, seed=2)
    hashes, num_slow = release_hashes(gray, boxes)
    np.testing.assert_array_equal(hashes, reference(gray, boxes))
    assert num_slow < len(boxes) // 2  # the fast path does most of the work


def test_unsure_boxes_are_hashed_the_release_way():
    gray = grey("astronaut.jpg")
    boxes = random_boxes(*gray.shape, count=40, seed=3)
    everything_unsure, num_slow = release_hashes(gray, boxes, margin=np.inf)
    assert num_slow == len(boxes)
    np.testing.assert_array_equal(everything_unsure, reference(gray, boxes))


def test_black_crop_has_every_coefficient_at_the_mean_and_falls_back():
    gray = np.zeros((50, 60), np.float32)
    gray[:, 30:] = 200.0
    hashes, num_slow = release_hashes(gray, np.array([[0, 0, 30, 50], [0, 0, 60, 50]]))
    assert num_slow == 1  # the black half: all 64 coefficients equal their mean (0)
    assert not hashes[0].any()
    np.testing.assert_array_equal(hashes[1], release_phash_of_array(gray))


def test_view_hasher_fast_and_slow_agree_and_cache():
    image = Image.open(ASSETS / "shapes_scene.png")
    boxes = random_boxes(image.height, image.width, count=60, seed=4)
    boxes = np.concatenate([boxes, boxes[:10]])  # repeated boxes come from the cache
    fast, slow = ViewHasher(image), ViewHasher(image, fast=False)
    np.testing.assert_array_equal(fast(boxes), slow(boxes))
    assert fast.num_hashed == slow.num_hashed == len(np.unique(boxes, axis=0))
