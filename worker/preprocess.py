"""Bytes to model input, following the model's PreprocessConfig. Pure functions, no I/O."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from jobs.images import ImageLimits, open_checked
from worker.errors import DecodeFailed
from worker.modeldir import PreprocessConfig

RESAMPLING = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


def preprocess(data: bytes, config: PreprocessConfig, limits: ImageLimits) -> np.ndarray:
    """Decode, orient, convert to RGB, resize the short side, center-crop and normalise.

    Returns a float32 array (3, input_size, input_size). Raises DecodeFailed for anything that
    is not a readable image within the limits.
    """
    try:
        image = open_checked(data, limits)
        _draft(image, config.resize)
        image = ImageOps.exif_transpose(image)
        rgb = to_rgb(image, config.background)
        cropped = resize_and_crop(rgb, config)
    except DecodeFailed:
        raise
    except Exception as exc:  # Pillow raises many types for broken files
        raise DecodeFailed(f"The image could not be decoded: {exc}") from exc
    scaled = np.asarray(cropped, dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(config.mean, dtype=np.float32)
    std = np.asarray(config.std, dtype=np.float32)
    return np.ascontiguousarray(((scaled - mean) / std).transpose(2, 0, 1))


def stack(arrays: list[np.ndarray]) -> np.ndarray:
    return np.stack(arrays).astype(np.float32, copy=False)


def _draft(image: Image.Image, short_side: int) -> None:
    """Let JPEG decode at 1/2, 1/4 or 1/8 scale when the photo is much larger than needed."""
    if image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    scale = short_side / min(width, height)
    if scale < 0.5:
        image.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))


def to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any mode (palette, alpha, grayscale, 16-bit, CMYK) as RGB, transparency on `background`."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _scaled_to_8bit(image).convert("RGB")
    return image.convert("RGB")


def _scaled_to_8bit(image: Image.Image) -> Image.Image:
    array = np.asarray(image, dtype=np.float64)
    top = float(array.max()) or 1.0
    return Image.fromarray((array * (255.0 / top)).astype(np.uint8))


def resize_and_crop(image: Image.Image, config: PreprocessConfig) -> Image.Image:
    width, height = image.size
    scale = config.resize / min(width, height)
    size = (
        max(config.input_size, round(width * scale)),
        max(config.input_size, round(height * scale)),
    )
    resized = image.resize(size, RESAMPLING[config.interpolation])
    left = (resized.width - config.input_size) // 2
    top = (resized.height - config.input_size) // 2
    return resized.crop((left, top, left + config.input_size, top + config.input_size))


# Used by training (training/pack.py), so that what a model learns from is decoded and cut
# exactly as what it is served. `preprocess` above is the served path itself.


def decode_rgb(
    data: bytes, limits: ImageLimits, short_side: int, background: tuple[int, int, int]
) -> Image.Image:
    """`preprocess`'s decoding: open within the limits, draft, orient, convert to RGB.

    Raises DecodeFailed for anything that is not a readable image within the limits.
    """
    try:
        image = open_checked(data, limits)
        _draft(image, short_side)
        return to_rgb(ImageOps.exif_transpose(image), background)
    except DecodeFailed:
        raise
    except Exception as exc:  # Pillow raises many types for broken files
        raise DecodeFailed(f"The image could not be decoded: {exc}") from exc


def letterbox(
    image: Image.Image, side: int, interpolation: str, fill: tuple[int, int, int]
) -> Image.Image:
    """Pad an RGB image to a centred square of `fill`, then resize it to `side` x `side`."""
    width, height = image.size
    longest = max(width, height)
    canvas = Image.new("RGB", (longest, longest), fill)
    canvas.paste(image, ((longest - width) // 2, (longest - height) // 2))
    return canvas.resize((side, side), RESAMPLING[interpolation])
