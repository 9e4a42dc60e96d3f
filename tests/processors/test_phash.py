"""The release pHash against an independent DCT (scipy) and hand-derived bit patterns."""

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image
from scipy.fft import dctn

from lavis_dynrefer.processors.phash import (
    ViewHasher,
    hamming,
    imagehash_phash_of_image,
    release_phash_of_array,
)


def reference_hash_224(array: np.ndarray) -> np.ndarray:
    """pHash of an array that is already 224 x 224: orthonormal DCT-II (what cv2.dct computes)."""
    block = dctn(array.astype(np.float64), type=2, norm="ortho")[:8, :8]
    return (block > block.mean()).reshape(-1)


def half_pixel_bilinear(array: np.ndarray, size: int) -> np.ndarray:
    """Upsampling bilinear resize with half-pixel centres (OpenCV INTER_LINEAR's convention)."""
    h, w = array.shape

    def axis(n_in):
        src = (np.arange(size) + 0.5) * n_in / size - 0.5
        src = np.clip(src, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    ylo, yhi, fy = axis(h)
    xlo, xhi, fx = axis(w)
    top = array[ylo][:, xlo] * (1 - fx) + array[ylo][:, xhi] * fx
    bottom = array[yhi][:, xlo] * (1 - fx) + array[yhi][:, xhi] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def test_constant_crop_has_only_dc_bit():
    # A constant crop has DCT energy only at DC: DC > mean(64 coefs) = DC / 64, all others 0.
    bits = release_phash_of_array(np.full((5, 7), 100, np.float32))
    assert bits.tolist() == [True] + [False] * 63


def test_single_cosine_sets_two_bits():
    # x[i, j] = 128 + 50 cos(pi (2j + 1) / 448): coefficients only at (0, 0) and (0, 1), both
    # positive, so both exceed their mean (sum / 64) and every other bit is 0.
    j = np.arange(224)
    row = 128 + 50 * np.cos(np.pi * (2 * j + 1) / (2 * 224))
    array = np.tile(row, (224, 1)).astype(np.float32)
    expected = [False] * 64
    expected[0] = expected[1] = True
    assert release_phash_of_array(array).tolist() == expected


def test_release_hash_matches_scipy_dct_on_224_arrays():
    rng = np.random.default_rng(1)
    for _ in range(20):
        smooth = cv2.resize(rng.uniform(0, 255, (6, 6)).astype(np.float32), (224, 224),
                            interpolation=cv2.INTER_CUBIC)
        assert release_phash_of_array(smooth).tolist() == reference_hash_224(smooth).tolist()


def test_release_hash_resizes_with_half_pixel_bilinear():
    rng = np.random.default_rng(2)
    for shape in [(3, 5), (8, 8), (17, 11)]:
        crop = rng.uniform(0, 255, shape).astype(np.float32)
        expected = reference_hash_224(half_pixel_bilinear(crop.astype(np.float64), 224))
        assert release_phash_of_array(crop).tolist() == expected.tolist()


def test_view_hasher_uses_opencv_grey_and_caches():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    hasher = ViewHasher(Image.fromarray(rgb), "release")
    boxes = np.array([[0, 0, 30, 20], [10, 5, 60, 40], [0, 0, 30, 20]])
    out = hasher(boxes)
    # Independent grey: ITU-R 601 weights, rounded to uint8 as OpenCV does.
    grey = np.rint(rgb @ np.array([0.299, 0.587, 0.114])).astype(np.float32)
    for box, bits in zip(boxes, out):
        x1, y1, x2, y2 = box
        expected = reference_hash_224(half_pixel_bilinear(grey[y1:y2, x1:x2].astype(float), 224))
        assert bits.tolist() == expected.tolist()
    assert hasher.num_hashed == 2  # the repeated box was hashed once


def test_imagehash_option_is_imagehash_phash():
    rng = np.random.default_rng(4)
    image = Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8))
    box = (5, 10, 60, 45)
    expected = imagehash.phash(image.crop(box)).hash.reshape(-1)
    assert ViewHasher(image, "imagehash")(np.array([box]))[0].tolist() == expected.tolist()
    assert imagehash_phash_of_image(image.crop(box)).tolist() == expected.tolist()


def test_hamming_counts_differing_bits():
    a = np.zeros(64, bool)
    b = np.zeros((2, 64), bool)
    b[0, [1, 5, 63]] = True
    assert hamming(a, b).tolist() == [3, 0]


def test_unknown_hash_name():
    with pytest.raises(ValueError, match="unknown hash 'md5'"):
        ViewHasher(Image.new("RGB", (4, 4)), "md5")
