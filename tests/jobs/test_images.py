"""The API's cheap checks: size, format and pixel count, from the header alone."""

from __future__ import annotations

import pytest
from PIL import Image

from jobs.errors import BadAspectRatio, EmptyImage, FileTooLarge, NotAnImage, TooManyPixels
from jobs.images import ImageLimits, inspect_image
from tests.conftest import encode

LIMITS = ImageLimits(max_bytes=1024 * 1024, max_pixels=1_000_000)


def test_a_small_png_passes() -> None:
    info = inspect_image(encode(Image.new("RGB", (30, 20)), "PNG"), LIMITS)
    assert (info.format, info.width, info.height) == ("PNG", 30, 20)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyImage),
        (b"%PDF-1.4 not an image", NotAnImage),
        (b"\xff\xd8\xff", NotAnImage),  # a JPEG signature and nothing more
        (b"x" * (1024 * 1024 + 1), FileTooLarge),
    ],
    ids=["empty", "pdf", "jpeg_signature_only", "too_many_bytes"],
)
def test_bad_uploads_are_rejected(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        inspect_image(data, LIMITS)


def test_too_many_pixels_is_caught_from_the_header() -> None:
    bomb = encode(Image.new("1", (2000, 1000)), "PNG")
    with pytest.raises(TooManyPixels, match="2000x1000"):
        inspect_image(bomb, LIMITS)


def test_formats_outside_the_allowed_list_are_refused() -> None:
    eps_header = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
    with pytest.raises(NotAnImage):
        inspect_image(eps_header, LIMITS)


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1), (1, 5000), (21, 1), (1000, 49)])
def test_elongated_images_are_refused_from_the_header(size: tuple[int, int]) -> None:
    limits = ImageLimits(max_bytes=1024 * 1024, max_pixels=1_000_000, max_aspect_ratio=20)
    with pytest.raises(BadAspectRatio, match=f"{size[0]}x{size[1]}"):
        inspect_image(encode(Image.new("1", size), "PNG"), limits)


@pytest.mark.parametrize("size", [(20, 1), (1, 20), (1000, 50)])
def test_elongation_up_to_the_limit_passes(size: tuple[int, int]) -> None:
    limits = ImageLimits(max_bytes=1024 * 1024, max_pixels=1_000_000, max_aspect_ratio=20)
    assert inspect_image(encode(Image.new("1", size), "PNG"), limits).width == size[0]
