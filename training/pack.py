"""Resize every image once and pack each split into a memory-mapped uint8 array.

    PACK_DIR/classes.json
    PACK_DIR/report.json           class balance, skipped (unreadable) and duplicate files
    PACK_DIR/train/images.npy      (N, side, side, 3) uint8, opened with mmap_mode="r"
    PACK_DIR/val/images.npy        (N, crop, crop, 3) uint8: the pixels a worker would serve
    PACK_DIR/{train,val}/labels.npy  (N,) int64

Decoding, orientation, colour conversion (transparency, 16-bit, CMYK) and the geometry are the
worker's own code (worker/preprocess.py): train images are the short side resized to `side`
and center-cropped to a square; val images go on to the served center crop of `crop`, so
validation during fit sees what serving computes.

Duplicates are found by content hash over both splits; the first copy is kept (train before
val, so a val image that also is in train is dropped: it would inflate val accuracy).
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from tqdm import tqdm

from jobs.images import ImageLimits
from training.errors import EmptyClass, SkippedImageWarning
from training.imagefolder import SPLITS, Sample, check_splits, scan
from worker.errors import DecodeFailed
from worker.modeldir import PreprocessConfig
from worker.preprocess import decode_rgb, letterbox, resize_and_crop, served_crop

log = logging.getLogger(__name__)

ResizeMode = Literal["shorter", "letterbox"]
LETTERBOX_FILL = (124, 116, 104)  # ImageNet's mean colour
Interpolation = Literal["bicubic", "bilinear", "nearest"]
# Training data may hold larger files than users may upload; the decoding is the same.
LIMITS = ImageLimits(max_bytes=50 * 1024 * 1024, max_pixels=100_000_000)
BACKGROUND: tuple[int, int, int] = PreprocessConfig().background  # what export serves with


@dataclass(frozen=True)
class Geometry:
    """How packing cuts an image: train to `side` x `side`, val on to the served `crop`."""

    side: int
    crop: int
    mode: ResizeMode = "shorter"
    interpolation: Interpolation = "bicubic"

    def served(self, side: int) -> PreprocessConfig:
        return PreprocessConfig(input_size=side, resize=self.side, interpolation=self.interpolation)


@dataclass
class PackReport:
    classes: list[str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "counts": self.counts,
            "skipped": self.skipped,
            "duplicates": self.duplicates,
        }


def cut(data: bytes, geometry: Geometry, split: str) -> Image.Image:
    """An image file's bytes as packed in `split`, through the serving code."""
    served = geometry.served(geometry.crop if split == "val" else geometry.side)
    if geometry.mode == "shorter":
        return served_crop(data, served, LIMITS)
    image = decode_rgb(data, LIMITS, geometry.side, BACKGROUND)
    image = letterbox(image, geometry.side, geometry.interpolation, LETTERBOX_FILL)
    return resize_and_crop(image, served)


def fingerprint(data_dir: Path, geometry: Geometry) -> str:
    g = geometry
    digest = hashlib.sha256(f"{g.side}:{g.crop}:{g.mode}:{g.interpolation}".encode())
    for split in SPLITS:
        for path in sorted((data_dir / split).rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(
                    f"{path.relative_to(data_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
                )
    return digest.hexdigest()


def _decode_unique(
    sample: Sample, seen: dict[str, Path], report: PackReport, geometry: Geometry, split: str
) -> Image.Image | None:
    """The packed image, or None (with a warning) when it is a duplicate or unreadable."""
    data = sample.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest in seen:
        report.duplicates.append({"file": str(sample.path), "same_as": str(seen[digest])})
        warnings.warn(
            f"skipping {sample.path}: duplicate of {seen[digest]}",
            SkippedImageWarning,
            stacklevel=3,
        )
        return None
    try:
        image = cut(data, geometry, split)
    except DecodeFailed as exc:
        report.skipped.append({"file": str(sample.path), "reason": str(exc)})
        warnings.warn(
            f"skipping unreadable {sample.path}: {exc}", SkippedImageWarning, stacklevel=3
        )
        return None
    seen[digest] = sample.path
    return image


def _pack_split(
    samples: list[Sample],
    seen: dict[str, Path],
    report: PackReport,
    out: Path,
    geometry: Geometry,
) -> list[int]:
    """Write the kept images of one split to `out`/images.npy; return their labels."""
    out.mkdir(parents=True, exist_ok=True)
    side = geometry.crop if out.name == "val" else geometry.side
    path = out / "images.npy"
    images = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.uint8, shape=(len(samples), side, side, 3)
    )
    labels: list[int] = []
    for sample in tqdm(samples, desc=f"packing {out.name}", unit="img", leave=False):
        image = _decode_unique(sample, seen, report, geometry, out.name)
        if image is not None:
            images[len(labels)] = np.asarray(image)
            labels.append(sample.label)
    images.flush()
    if len(labels) < len(samples):  # drop the unused rows, chunk by chunk
        tmp = out / "images.tmp.npy"
        trimmed = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.uint8, shape=(len(labels), side, side, 3)
        )
        for i in range(0, len(labels), 256):
            trimmed[i : i + 256] = images[i : min(i + 256, len(labels))]
        trimmed.flush()
        del trimmed
        tmp.replace(path)
    del images
    np.save(out / "labels.npy", np.asarray(labels, dtype=np.int64))
    return labels


def pack(
    data_dir: Path,
    out: Path,
    side: int,
    mode: ResizeMode = "shorter",
    interpolation: Interpolation = "bicubic",
    crop: int | None = None,
) -> PackReport:
    """Pack `data_dir`/{train,val} into `out`, unless `out` already holds this exact data.

    `crop` is the served input size of the val images (default: `side`, no further crop).
    """
    geometry = Geometry(side, crop or side, mode, interpolation)
    stamp = fingerprint(data_dir, geometry)
    if (out / "fingerprint").is_file() and (out / "fingerprint").read_text() == stamp:
        log.info("reusing packed data in %s", out)
        saved = json.loads((out / "report.json").read_text())
        return PackReport(**saved)
    classes = check_splits(data_dir)
    report = PackReport(classes=classes)
    seen: dict[str, Path] = {}
    for split in SPLITS:
        _, samples = scan(data_dir / split, classes)
        labels = _pack_split(samples, seen, report, out / split, geometry)
        counts = Counter(labels)
        report.counts[split] = {name: counts.get(i, 0) for i, name in enumerate(classes)}
        empty = [name for name, n in report.counts[split].items() if n == 0]
        if empty:
            raise EmptyClass(f"No readable image left in {split}/ for class(es) {', '.join(empty)}")
    (out / "classes.json").write_text(json.dumps(classes, indent=1) + "\n")
    (out / "report.json").write_text(json.dumps(report.as_dict(), indent=1) + "\n")
    (out / "fingerprint").write_text(stamp)
    log_balance(report)
    return report


def log_balance(report: PackReport) -> None:
    for split, counts in report.counts.items():
        total = sum(counts.values())
        smallest, largest = min(counts.values()), max(counts.values())
        log.info(
            "%s: %d images in %d classes (smallest %d, largest %d)",
            split,
            total,
            len(counts),
            smallest,
            largest,
        )
    if report.skipped:
        log.warning("skipped %d unreadable file(s)", len(report.skipped))
    if report.duplicates:
        log.warning("skipped %d duplicate file(s)", len(report.duplicates))


def load_split(pack_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images = np.load(pack_dir / split / "images.npy", mmap_mode="r")
    labels = np.load(pack_dir / split / "labels.npy")
    return images, labels
