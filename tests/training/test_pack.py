"""Packing cuts images with the serving code: a packed val image is what a worker computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.pack import LIMITS, load_split, pack
from worker.modeldir import PreprocessConfig
from worker.preprocess import preprocess

SIDE, CROP = 40, 32  # the short side is resized to 40, then served center crop of 32


def transparent_png(path: Path) -> None:
    """A red disc-ish square on fully transparent pixels, half-transparent in the middle."""
    rgba = np.zeros((50, 70, 4), dtype=np.uint8)
    rgba[..., 1] = 200  # green under the transparency: must not show through
    rgba[10:40, 20:50] = (220, 30, 30, 255)
    rgba[20:30, 30:40, 3] = 128
    Image.fromarray(rgba, "RGBA").save(path)


def sixteen_bit_png(path: Path) -> None:
    """A 16-bit grayscale gradient from 0 to 4000 (of 65535): too dark if cut to 8 bits."""
    ramp = np.linspace(0, 4000, 64 * 48).reshape(48, 64).astype(np.uint16)
    Image.fromarray(ramp).save(path)
    with Image.open(path) as image:
        assert image.mode == "I;16"


@pytest.fixture
def awkward_pngs(tmp_path: Path) -> Path:
    """A tree whose val images are a transparent PNG and a 16-bit PNG (train: the same kinds)."""
    data = tmp_path / "awkward"
    for split in ("train", "val"):
        (data / split / "transparent").mkdir(parents=True)
        (data / split / "sixteen_bit").mkdir(parents=True)
    transparent_png(data / "val" / "transparent" / "a.png")
    sixteen_bit_png(data / "val" / "sixteen_bit" / "b.png")
    transparent_png(data / "train" / "transparent" / "c.png")
    Image.open(data / "train" / "transparent" / "c.png").rotate(90, expand=True).save(
        data / "train" / "transparent" / "c.png"
    )
    ramp = np.linspace(0, 9000, 60 * 40).reshape(40, 60).astype(np.uint16)
    Image.fromarray(ramp).save(data / "train" / "sixteen_bit" / "d.png")
    return data


def served_pixels(path: Path, config: PreprocessConfig) -> np.ndarray:
    """The worker's model input, un-normalised back to 0..255 (mean 0, std 1 keeps x / 255)."""
    plain = config.model_copy(update={"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)})
    array = preprocess(path.read_bytes(), plain, LIMITS)
    return np.rint(array.transpose(1, 2, 0) * 255).astype(np.uint8)


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_packed_val_images_are_the_served_pixels(
    awkward_pngs: Path, tmp_path: Path, interpolation: str
) -> None:
    pack(awkward_pngs, tmp_path / "packed", SIDE, interpolation=interpolation, crop=CROP)  # type: ignore[arg-type]
    images, labels = load_split(tmp_path / "packed", "val")
    config = PreprocessConfig(input_size=CROP, resize=SIDE, interpolation=interpolation)  # type: ignore[arg-type]

    assert images.shape == (2, CROP, CROP, 3)
    by_class = dict(zip(labels.tolist(), images, strict=True))  # classes sorted: 0 sixteen_bit
    sixteen, transparent = by_class[0], by_class[1]
    np.testing.assert_array_equal(
        sixteen, served_pixels(awkward_pngs / "val/sixteen_bit/b.png", config)
    )
    np.testing.assert_array_equal(
        transparent, served_pixels(awkward_pngs / "val/transparent/a.png", config)
    )
    # and the served conversion is a real one: transparency on white, 16 bits scaled to 8
    assert tuple(transparent[0, 0]) == (255, 255, 255)
    assert sixteen.max() > 200 and sixteen.min() < 40  # cut to 8 bits, it would be all 255
    assert len(np.unique(sixteen)) > 20


def test_packed_train_images_are_square_served_crops_of_the_short_side(
    awkward_pngs: Path, tmp_path: Path
) -> None:
    pack(awkward_pngs, tmp_path / "packed", SIDE, crop=CROP)
    images, labels = load_split(tmp_path / "packed", "train")
    square = PreprocessConfig(input_size=SIDE, resize=SIDE, interpolation="bicubic")

    assert images.shape == (2, SIDE, SIDE, 3)
    by_class = dict(zip(labels.tolist(), images, strict=True))
    for label, name in ((0, "sixteen_bit/d.png"), (1, "transparent/c.png")):
        expected = served_pixels(awkward_pngs / "train" / name, square)
        np.testing.assert_array_equal(by_class[label], expected)
