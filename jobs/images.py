"""Cheap checks on an upload before it is queued: size, format, pixel count and elongation.

Only the image header is read here; decoding happens in the worker. A file that passes these
checks but fails to decode ends as a failed job with code `decode_failed`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from jobs.errors import BadAspectRatio, EmptyImage, FileTooLarge, NotAnImage, TooManyPixels
from jobs.settings import QueueSettings

# Formats a camera, a browser or a messenger produces. Pillow can open more (EPS and others
# would run external programs), so everything else is refused up front.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    max_aspect_ratio: float = 20.0

    @classmethod
    def from_settings(cls, settings: QueueSettings) -> ImageLimits:
        return cls(
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
            max_aspect_ratio=settings.max_aspect_ratio,
        )


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


def check_aspect_ratio(width: int, height: int, limits: ImageLimits) -> None:
    long_side, short_side = max(width, height), min(width, height)
    if short_side == 0 or long_side / short_side > limits.max_aspect_ratio:
        raise BadAspectRatio(
            f"The image is {width}x{height}, more elongated than the limit of "
            f"{limits.max_aspect_ratio:g}:1."
        )


def inspect_image(data: bytes, limits: ImageLimits) -> ImageInfo:
    """The API's checks, from the header alone. Workers cope with any shape (bounded by the
    output size); the elongation limit only keeps pointless work off the queue."""
    image = open_checked(data, limits)
    check_aspect_ratio(image.width, image.height, limits)
    return ImageInfo(format=str(image.format), width=image.width, height=image.height)
