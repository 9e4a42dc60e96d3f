"""Opening images and bringing any PIL image to upright 8-bit RGB.

Boxes always refer to the image as a viewer shows it, i.e. after its EXIF orientation is applied.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# Pillow's decompression-bomb guard stays on: above PIL.Image.MAX_IMAGE_PIXELS (89.5 Mpx by
# default) it warns, above twice that it refuses, and the refusal becomes a clear error here.

_HIGH_DEPTH_INT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


class ImageLoadError(ValueError):
    """An image file that cannot be turned into an RGB image."""


def _high_depth_to_uint8(image: Image.Image) -> Image.Image:
    """16-bit or 32-bit integer grey -> 8-bit grey, scaling by the depth's range, not clipping."""
    array = np.asarray(image).astype(np.float64)
    if image.mode == "I" and array.size and array.max() <= 255 and array.min() >= 0:
        scaled = array  # an "I" image that only holds 8-bit values
    else:
        scaled = array / 257.0  # 65535 -> 255
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _float_to_uint8(image: Image.Image) -> Image.Image:
    array = np.asarray(image).astype(np.float64)
    finite = array[np.isfinite(array)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        array = array * 255.0
    array = np.nan_to_num(array, nan=0.0, posinf=255.0, neginf=0.0)
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), mode="L")


def decode_strictly(image: Image.Image) -> None:
    """Decode a lazily opened file image (``Image.open`` without ``load``) with truncation
    refused: LAVIS sets ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` on import, which would turn a
    cut-off file into a silently grey-padded image. An image already decoded is left alone.

    Raises:
        ImageLoadError: naming the file, for a truncated or corrupt one.
    """
    if not isinstance(image, ImageFile.ImageFile) or not image.tile:
        return
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as err:
        name = getattr(image, "filename", "") or "the image"
        raise ImageLoadError(f"{name}: cannot decode image, truncated or corrupt ({err})") from err
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image -> upright 8-bit RGB.

    Applies the EXIF orientation, scales 16/32-bit grey to 8 bits (Pillow's own ``convert`` would
    clip everything above 255 to white), and drops alpha as LAVIS's processors do. An image
    opened but not yet decoded is decoded with truncation refused (``decode_strictly``).
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL.Image.Image, got {type(image).__name__}")
    decode_strictly(image)
    image = ImageOps.exif_transpose(image)
    if image.mode in _HIGH_DEPTH_INT_MODES:
        image = _high_depth_to_uint8(image)
    elif image.mode == "F":
        image = _float_to_uint8(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file as upright RGB, with errors that name the file.

    Raises:
        FileNotFoundError: the path does not exist.
        ImageLoadError: not an image, truncated/corrupt, or above the decompression-bomb limit.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    if not path.is_file():
        raise ImageLoadError(f"not a file: {path}")
    # LAVIS sets ImageFile.LOAD_TRUNCATED_IMAGES = True on import, which turns a cut-off file into
    # a silently grey-padded image; refuse it here instead.
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except Image.DecompressionBombError as err:
        raise ImageLoadError(
            f"{path}: image too large ({err}); Pillow refuses images above "
            f"{2 * Image.MAX_IMAGE_PIXELS} pixels (2 x PIL.Image.MAX_IMAGE_PIXELS)"
        ) from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(f"{path}: not an image file Pillow can read") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(f"{path}: cannot decode image, truncated or corrupt ({err})") from err
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
