"""Any PIL image or file -> upright RGB, with errors that name the file."""

import numpy as np
import pytest
from PIL import Image

from lavis_dynrefer.processors.image_io import ImageLoadError, load_image, to_rgb


def test_exif_orientation_applied(tmp_path):
    stored = Image.new("RGB", (40, 20), (0, 0, 0))
    stored.paste((255, 0, 0), (0, 0, 8, 8))  # a block survives JPEG compression
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=100)
    upright = load_image(path)
    assert upright.size == (20, 40)
    # The stored top-left pixel is shown at the top-right after a clockwise turn.
    r, g, b = upright.getpixel((17, 2))
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "1", "LA"])
def test_modes_become_rgb(mode):
    image = Image.new("RGB", (5, 4), (10, 200, 30)).convert(mode)
    assert to_rgb(image).mode == "RGB"
    assert to_rgb(image).size == (5, 4)


def test_sixteen_bit_is_scaled_not_clipped():
    array = np.array([[0, 257 * 100, 65535]], np.uint16)
    image = Image.fromarray(array)  # uint16 -> "I;16"
    assert image.mode == "I;16"
    rgb = np.asarray(to_rgb(image))
    assert rgb[0, :, 0].tolist() == [0, 100, 255]
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_thirty_two_bit_int_grey_with_eight_bit_values():
    image = Image.fromarray(np.array([[0, 7, 255]], np.int32))  # int32 -> "I"
    assert np.asarray(to_rgb(image))[0, :, 1].tolist() == [0, 7, 255]


def test_one_pixel_image():
    assert to_rgb(Image.new("L", (1, 1), 9)).getpixel((0, 0)) == (9, 9, 9)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(ImageLoadError, match="notes.png"):
        load_image(path)


def test_truncated_image(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageLoadError, match="cut.png"):
        load_image(path)


def test_truncated_image_handed_over_open_is_refused(tmp_path, monkeypatch):
    """LAVIS turns LOAD_TRUNCATED_IMAGES on; an Image.open()ed cut-off JPEG given to the
    processor is refused naming the file, not grey-padded."""
    from PIL import ImageFile

    from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    processor = MultiViewProcessor(MultiViewConfig(image_size=32))
    with pytest.raises(ImageLoadError, match="cut.jpg: cannot decode image, truncated"):
        processor(Image.open(path), [[0, 0, 10, 10]])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # LAVIS's setting is left as it was
    # Decoded with the flag on (as LAVIS would), the same file is grey-padded.
    padded = Image.open(path)
    padded.load()
    assert np.asarray(padded)[-1].std() == 0


def test_not_a_pil_image():
    with pytest.raises(TypeError, match="PIL"):
        to_rgb(np.zeros((2, 2, 3)))
