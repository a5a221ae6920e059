"""Preprocessing follows the model's config and copes with every common image mode."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from jobs.images import ImageLimits
from tests.conftest import encode, photo
from worker.errors import DecodeFailed
from worker.modeldir import PreprocessConfig
from worker.preprocess import preprocess

CONFIG = PreprocessConfig(input_size=32, resize=36, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
LIMITS = ImageLimits(max_bytes=50 * 1024 * 1024, max_pixels=50_000_000)
WHITE = 1.0  # (1 - 0.5) / 0.5


def run(data: bytes, config: PreprocessConfig = CONFIG) -> np.ndarray:
    return preprocess(data, config, LIMITS)


def test_output_shape_type_and_range() -> None:
    array = run(photo("scikit_coffee.png").data)
    assert array.shape == (3, 32, 32)
    assert array.dtype == np.float32
    assert -1.0 <= array.min() < array.max() <= 1.0


def test_mean_and_std_come_from_the_config() -> None:
    gray = encode(Image.new("RGB", (50, 40), (128, 128, 128)), "PNG")
    shifted = PreprocessConfig(input_size=8, resize=8, mean=(0.0, 0.25, 0.5), std=(1.0, 0.5, 0.25))
    array = run(gray, shifted)
    value = 128 / 255
    assert array[:, 0, 0] == pytest.approx(
        [value, (value - 0.25) / 0.5, (value - 0.5) / 0.25], abs=1e-6
    )


def test_exif_orientation_is_applied() -> None:
    # Left half red, right half blue; EXIF orientation 6 says: rotate 90 degrees clockwise to view.
    image = Image.new("RGB", (64, 32), (255, 0, 0))
    image.paste((0, 0, 255), (32, 0, 64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    array = run(encode(image, "JPEG", exif=exif.tobytes(), quality=95))
    # Upright, the red half is on top and the blue half at the bottom.
    assert array[0, 2, 16] > 0.5 and array[2, 2, 16] < -0.5
    assert array[2, -3, 16] > 0.5 and array[0, -3, 16] < -0.5


def test_transparent_pixels_are_white() -> None:
    array = run(encode(Image.new("RGBA", (40, 40), (0, 0, 0, 0)), "PNG"))
    assert np.allclose(array, WHITE)


def test_palette_with_transparency_is_white() -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0] * 256)
    array = run(encode(image, "PNG", transparency=0))
    assert np.allclose(array, WHITE)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16", "1"])
def test_every_common_mode_becomes_rgb(mode: str) -> None:
    image = Image.open(photo("gcompris_panda.webp").path).convert("RGB").convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    array = run(encode(image, fmt))
    assert array.shape == (3, 32, 32)
    assert np.isfinite(array).all()


def test_truncated_file_raises_decode_failed() -> None:
    data = encode(Image.open(photo("gcompris_panda.webp").path).convert("RGB"), "JPEG")
    with pytest.raises(DecodeFailed):
        run(data[: len(data) // 2])


def test_large_jpeg_is_decoded_at_reduced_size() -> None:
    """A 12-megapixel photo decodes through JPEG draft mode: same answer, far less work."""
    big = Image.open(photo("gcompris_red_panda.webp").path).convert("RGB").resize((4000, 3000))
    data = encode(big, "JPEG", quality=90)
    config = PreprocessConfig()
    started = time.perf_counter()
    drafted = run(data, config)
    drafted_s = time.perf_counter() - started
    assert drafted.shape == (3, 224, 224)
    with Image.open(io.BytesIO(data)) as opened:
        opened.draft("RGB", (342, 257))
        assert opened.size == (500, 375)  # decoded at 1/8 scale, which is what preprocess asks
    print(f"\n12 MP JPEG preprocessed in {drafted_s * 1000:.0f} ms")
