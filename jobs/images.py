"""Cheap checks on an upload before it is queued: size, format and pixel count.

Only the image header is read here; decoding happens in the worker. A file that passes these
checks but fails to decode ends as a failed job with code `decode_failed`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from jobs.errors import EmptyImage, FileTooLarge, NotAnImage, TooManyPixels
from jobs.settings import QueueSettings

# Formats a camera, a browser or a messenger produces. Pillow can open more (EPS and others
# would run external programs), so everything else is refused up front.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int

    @classmethod
    def from_settings(cls, settings: QueueSettings) -> ImageLimits:
        return cls(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def check_size(n_bytes: int, limits: ImageLimits) -> None:
    if n_bytes == 0:
        raise EmptyImage("The file is empty.")
    if n_bytes > limits.max_bytes:
        raise FileTooLarge(
            f"The file has {n_bytes} bytes; the limit is {limits.max_bytes} bytes "
            f"({limits.max_bytes / 1024 / 1024:.0f} MiB)."
        )


def open_checked(data: bytes, limits: ImageLimits) -> Image.Image:
    """Open (not decode) an image, refusing other formats and too many pixels."""
    check_size(len(data), limits)
    try:
        with warnings.catch_warnings():
            # Pillow warns or raises on its own bomb limit; ours, below, is the one that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"The image has too many pixels: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise NotAnImage(
            "The file is not an image kennel can read (JPEG, PNG, WebP, GIF, BMP or TIFF)."
        ) from exc
    width, height = image.size
    if width * height > limits.max_pixels:
        raise TooManyPixels(
            f"The image is {width}x{height} = {width * height} pixels; "
            f"the limit is {limits.max_pixels}."
        )
    return image


def inspect_image(data: bytes, limits: ImageLimits) -> ImageInfo:
    image = open_checked(data, limits)
    return ImageInfo(format=str(image.format), width=image.width, height=image.height)
