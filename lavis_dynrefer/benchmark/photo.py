"""The benchmark photo: the astronaut asset at 800 x 600, as the issue measured."""

from __future__ import annotations

from PIL import Image

from lavis_dynrefer.paths import asset_path

PHOTO_SIZE = (800, 600)


def benchmark_photo(size: tuple[int, int] = PHOTO_SIZE) -> Image.Image:
    return Image.open(asset_path("astronaut.jpg")).convert("RGB").resize(size)
