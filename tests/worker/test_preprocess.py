"""Preprocessing follows the model's config and copes with every common image mode."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from jobs.images import ImageLimits
from tests.conftest import PHOTO_MANIFEST, encode, jpeg_claiming, photo
from worker.errors import DecodeFailed
from worker.jpegscan import check_scan_data
from worker.modeldir import PreprocessConfig
from worker.preprocess import preprocess, reduce_for

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


def reference(data: bytes, config: PreprocessConfig) -> np.ndarray:
    """The old pipeline: JPEG draft, then resize the whole image so its short side is
    config.resize, then crop."""
    opened = Image.open(io.BytesIO(data))
    scale = config.resize / min(opened.size)
    if opened.format == "JPEG" and scale < 0.5:
        opened.draft("RGB", (int(opened.width * scale) + 1, int(opened.height * scale) + 1))
    image = ImageOps.exif_transpose(opened).convert("RGB")
    scale = config.resize / min(image.size)
    size = (
        max(config.input_size, round(image.width * scale)),
        max(config.input_size, round(image.height * scale)),
    )
    resized = image.resize(size, Image.Resampling.BICUBIC)
    left = (resized.width - config.input_size) // 2
    top = (resized.height - config.input_size) // 2
    side = config.input_size
    cropped = resized.crop((left, top, left + side, top + side))
    scaled = np.asarray(cropped, dtype=np.float32) / 255.0
    return ((scaled - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1)


ONE_LEVEL = 1 / 255 / 0.5 + 1e-6  # one 8-bit step, after normalising with std 0.5


@pytest.mark.parametrize("name", [p.path.name for p in PHOTO_MANIFEST])
def test_the_shipped_photos_match_a_full_resize_then_crop(name: str) -> None:
    data = photo(name).data
    config = PreprocessConfig()
    difference = np.abs(run(data, config) - reference(data, config))
    assert difference.max() <= ONE_LEVEL


def test_a_large_png_is_reduced_first_and_still_matches_closely() -> None:
    big = Image.open(photo("gcompris_red_panda.webp").path).convert("RGB").resize((4000, 2250))
    data = encode(big, "PNG", compress_level=1)
    config = PreprocessConfig()
    difference = np.abs(run(data, config) - reference(data, config))
    assert difference.mean() < 0.01  # reduce(2) then bicubic, against bicubic alone
    assert difference.max() < 0.15


def test_reduce_in_strips_equals_a_whole_reduce() -> None:
    """A 1-bit image (which Image.reduce refuses) is converted and reduced strip by strip;
    the strips join into exactly what converting and reducing it whole gives."""
    noise = np.random.default_rng(1).integers(0, 2, (3001, 4000), dtype=np.uint8) * 255
    bits = Image.fromarray(noise).convert("1")
    reduced = reduce_for(bits, 256)  # factor int(3001 / (3 * 256)) = 3
    assert (reduced.mode, reduced.size) == ("L", (1334, 1001))
    whole = bits.convert("L").reduce(3)
    assert np.array_equal(np.asarray(reduced), np.asarray(whole))


@pytest.mark.parametrize(
    ("mode", "fmt"), [("RGBA", "PNG"), ("P", "PNG"), ("I;16", "PNG"), ("CMYK", "TIFF")]
)
def test_large_images_of_every_mode_reduce_and_match(mode: str, fmt: str) -> None:
    base = Image.open(photo("gcompris_panda.webp").path).convert("RGB").resize((3072, 2043))
    data = encode(base.convert(mode), fmt)
    config = PreprocessConfig()
    difference = np.abs(run(data, config) - reference(data, config))
    assert difference.mean() < 0.02


def test_a_jpeg_claiming_more_pixels_than_its_data_fails_to_decode() -> None:
    lie = jpeg_claiming(7000, 7000)
    with Image.open(io.BytesIO(lie)) as opened:
        assert opened.size == (7000, 7000)
        opened.load()  # libjpeg pads the missing data with grey and only warns
    with pytest.raises(DecodeFailed, match="7000x7000"):
        run(lie, PreprocessConfig())


def test_jpegs_of_every_kind_carry_enough_scan_data() -> None:
    """No false alarm on real files: flat colour (the least data per block), progressive,
    grayscale, restart markers, and every shipped photo."""
    flat = Image.new("RGB", (2000, 1500), (90, 120, 30))
    for params in ({}, {"progressive": True}, {"quality": 5}, {"subsampling": 2}):
        check_scan_data(encode(flat, "JPEG", **params))
    check_scan_data(encode(flat.convert("L"), "JPEG", quality=1, progressive=True))
    check_scan_data(encode(flat, "JPEG", restart_marker_blocks=1))
    for item in PHOTO_MANIFEST:
        check_scan_data(encode(Image.open(item.path).convert("RGB"), "JPEG"))


# Runs preprocess on one image in a fresh interpreter and prints its time and its peak RSS above
# the RSS just before the call. VmHWM is the peak RSS of this process image (ru_maxrss would
# carry pytest's own peak across fork and exec); the image is made elsewhere, for the same reason.
PEAK_SCRIPT = """
import re, sys, time
from pathlib import Path
import psutil
from jobs.images import ImageLimits
from worker.modeldir import PreprocessConfig
from worker.jpegscan import check_scan_data
from worker.preprocess import preprocess, reduce_for
data = sys.stdin.buffer.read()
limits = ImageLimits(max_bytes=50 << 20, max_pixels=50_000_000, max_aspect_ratio=1e9)
before = psutil.Process().memory_info().rss
started = time.perf_counter()
preprocess(data, PreprocessConfig(), limits)
seconds = time.perf_counter() - started
status = Path("/proc/self/status").read_text()
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) * 1024
print(seconds, peak - before)
"""


def peak_of_preprocess(data: bytes) -> tuple[float, int]:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT],
        input=data,
        capture_output=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    seconds, grown = done.stdout.split()
    return float(seconds), int(grown)


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1), (1, 5000)], ids=str)
def test_elongated_images_cost_what_the_output_costs(size: tuple[int, int]) -> None:
    """The issue's 476-byte 1x100000 PNG took ~26 GB and an OOM kill; now a few MB."""
    data = encode(Image.new("RGB", size, (200, 10, 10)), "PNG")
    seconds, grown = peak_of_preprocess(data)
    print(f"\n{size}: {seconds * 1000:.0f} ms, peak +{grown / 1e6:.1f} MB")
    assert grown < 32 * 1024 * 1024


def test_a_one_bit_bomb_is_never_converted_whole() -> None:
    """7071x7071 1-bit: decoded at one byte a pixel (50 MB); the old pipeline added a 200 MB
    RGB copy. Converting strip by strip keeps the growth near the decoded size."""
    data = encode(Image.new("1", (7071, 7071), 1), "PNG", optimize=True)
    seconds, grown = peak_of_preprocess(data)
    print(f"\n7071x7071 1-bit PNG: {seconds * 1000:.0f} ms, peak +{grown / 1e6:.0f} MB")
    assert grown < 7071 * 7071 * 1.6
