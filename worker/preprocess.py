"""Bytes to model input, following the model's PreprocessConfig. Pure functions, no I/O.

Memory and time are bounded by the output, not by the input's shape: a JPEG decodes at reduced
size (draft), any other format is reduced by an integer factor right after decoding and before
any conversion, and the final resize reads only the center crop it keeps. A PixelBudget, when
given, holds the decoded pixel count while the full-size image is in memory.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
from PIL import Image

from jobs.images import ImageLimits, open_checked
from worker.budget import PixelBudget
from worker.errors import DecodeFailed
from worker.jpegscan import check_scan_data
from worker.modeldir import PreprocessConfig

RESAMPLING = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}
# Reduce by an integer factor only while the image stays this many times larger than the resize
# target; beyond 3 Pillow documents the result as indistinguishable from a fair resample.
REDUCING_GAP = 3.0
# Modes Image.reduce accepts; the others are converted (after decoding) to the mode given.
REDUCIBLE = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "I", "F", "PA"}
# Source rows reduced at a time: a strip's conversion is all the extra memory a reduce needs.
STRIP_ROWS = 256
# The widest reach of the filters in RESAMPLING (bicubic), in output pixels.
FILTER_REACH = 2.0
WIDENED = {"1": "L", "I;16": "I", "I;16L": "I", "I;16B": "I", "I;16N": "I"}
ORIENTATION: dict[int, tuple[Image.Transpose, ...]] = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def preprocess(
    data: bytes, config: PreprocessConfig, limits: ImageLimits, budget: PixelBudget | None = None
) -> np.ndarray:
    """Decode, orient, convert to RGB, resize the short side, center-crop and normalise.

    Returns a float32 array (3, input_size, input_size). Raises DecodeFailed for anything that
    is not a readable image within the limits.
    """
    cropped = served_crop(data, config, limits, budget)
    scaled = np.asarray(cropped, dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(config.mean, dtype=np.float32)
    std = np.asarray(config.std, dtype=np.float32)
    return np.ascontiguousarray(((scaled - mean) / std).transpose(2, 0, 1))


def served_crop(
    data: bytes, config: PreprocessConfig, limits: ImageLimits, budget: PixelBudget | None = None
) -> Image.Image:
    """The RGB input_size square a model is given, before normalisation (training packs it too).

    Raises DecodeFailed for anything that is not a readable image within the limits.
    """
    with _decoding():
        image = _opened(data, limits, config.resize)
        with _reserved(budget, image.width * image.height):
            try:
                return _decode_and_crop(image, config)
            finally:
                image.close()  # the decoded pixels go before the budget is given back


@contextlib.contextmanager
def _decoding() -> Iterator[None]:
    """Any failure to read the image (Pillow raises many types) as DecodeFailed."""
    try:
        yield
    except DecodeFailed:
        raise
    except Exception as exc:
        raise DecodeFailed(f"The image could not be decoded: {exc}") from exc


def _opened(data: bytes, limits: ImageLimits, short_side: int) -> Image.Image:
    """Open within the limits, check a JPEG's data against its header, and draft."""
    image = open_checked(data, limits)
    if image.format in ("JPEG", "MPO"):
        check_scan_data(data)
    _draft(image, short_side)
    return image


def stack(arrays: list[np.ndarray]) -> np.ndarray:
    return np.stack(arrays).astype(np.float32, copy=False)


@contextlib.contextmanager
def _reserved(budget: PixelBudget | None, pixels: int) -> Iterator[None]:
    if budget is None:
        yield
        return
    with budget.reserve(pixels):
        yield


def _decode_and_crop(image: Image.Image, config: PreprocessConfig) -> Image.Image:
    return resize_and_crop(_oriented(image, config.resize), config)


def _oriented(image: Image.Image, short_side: int) -> Image.Image:
    """Decode, reduce towards `short_side` (see reduce_for), then apply the EXIF orientation."""
    orientation = image.getexif().get(0x0112)
    methods = ORIENTATION.get(orientation, ()) if isinstance(orientation, int) else ()
    image.load()
    small = reduce_for(image, short_side)
    for method in methods:
        small = small.transpose(method)
    return small


def _draft(image: Image.Image, short_side: int) -> None:
    """Let JPEG decode at 1/2, 1/4 or 1/8 scale when the photo is much larger than needed."""
    if image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    scale = short_side / min(width, height)
    if scale < 0.5:
        image.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))


def reduce_for(image: Image.Image, short_side: int) -> Image.Image:
    """Shrink a decoded image by an integer factor that keeps its short side well above
    `short_side` (REDUCING_GAP times). Works in strips, so a mode Image.reduce cannot take
    (1-bit, palette, 16-bit) is converted a strip at a time, never as a whole image."""
    factor = int(min(image.size) / (short_side * REDUCING_GAP))
    if factor < 2:
        return image
    mode = image.mode if image.mode in REDUCIBLE else _reducible_mode(image)
    width, height = image.size
    reduced = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, STRIP_ROWS // factor)
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(top + rows, height)))
        if strip.mode != mode:
            strip = strip.convert(mode)
        reduced.paste(strip.reduce(factor), (0, top // factor))
    return reduced


def _reducible_mode(image: Image.Image) -> str:
    if image.mode in WIDENED:
        return WIDENED[image.mode]
    if image.mode == "P" and "transparency" in image.info:
        return "RGBA"
    return "RGB"


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
    """Resize the short side to config.resize and keep the center input_size square as RGB.

    Only the source region that square comes from (plus the filter's reach) is converted and
    resampled: a resize with `box`, not a crop after a full resize, so a 1x100000 image costs
    what a 224x224 one does. The result equals the full resize's center crop.
    """
    width, height = image.size
    side = config.input_size
    scale = config.resize / min(width, height)
    full_width = max(side, round(width * scale))
    full_height = max(side, round(height * scale))
    x_scale, y_scale = full_width / width, full_height / height
    left = (full_width - side) // 2
    top = (full_height - side) // 2
    box = (left / x_scale, top / y_scale, (left + side) / x_scale, (top + side) / y_scale)
    region = _with_margin(box, image.size, min(x_scale, y_scale))
    kept = to_rgb(image.crop(region), config.background)
    shifted = (box[0] - region[0], box[1] - region[1], box[2] - region[0], box[3] - region[1])
    return kept.resize((side, side), RESAMPLING[config.interpolation], box=shifted)


def _with_margin(
    box: tuple[float, float, float, float], size: tuple[int, int], scale: float
) -> tuple[int, int, int, int]:
    """`box` grown by the resampling filter's reach (bicubic: 2 output pixels), within `size`."""
    margin = math.ceil(FILTER_REACH * max(1.0, 1.0 / scale)) + 1
    return (
        max(0, math.floor(box[0]) - margin),
        max(0, math.floor(box[1]) - margin),
        min(size[0], math.ceil(box[2]) + margin),
        min(size[1], math.ceil(box[3]) + margin),
    )


# Used by training (training/pack.py) for letterboxed packing; the served cut is `served_crop`.


def decode_rgb(
    data: bytes, limits: ImageLimits, short_side: int, background: tuple[int, int, int]
) -> Image.Image:
    """`served_crop`'s decoding, whole: open within the limits, draft, reduce, orient, to RGB.

    Raises DecodeFailed for anything that is not a readable image within the limits.
    """
    with _decoding():
        return to_rgb(_oriented(_opened(data, limits, short_side), short_side), background)


def letterbox(
    image: Image.Image, side: int, interpolation: str, fill: tuple[int, int, int]
) -> Image.Image:
    """Pad an RGB image to a centred square of `fill`, then resize it to `side` x `side`."""
    width, height = image.size
    longest = max(width, height)
    canvas = Image.new("RGB", (longest, longest), fill)
    canvas.paste(image, ((longest - width) // 2, (longest - height) // 2))
    return canvas.resize((side, side), RESAMPLING[interpolation])
