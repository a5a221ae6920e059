"""Add a class to an ImageFolder tree from a folder of images, split into train/ and val/."""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

from training.errors import DataError, EmptyClass
from training.imagefolder import SPLITS, image_files


def split_files(files: list[Path], val_fraction: float, seed: int) -> dict[str, list[Path]]:
    """A seeded shuffle; at least one image in val when there are two or more."""
    shuffled = sorted(files)
    random.Random(seed).shuffle(shuffled)
    n_val = math.ceil(len(shuffled) * val_fraction) if len(shuffled) > 1 else 0
    return {"val": sorted(shuffled[:n_val]), "train": sorted(shuffled[n_val:])}


def add_class(
    data_dir: Path, name: str, source: Path, val_fraction: float, seed: int
) -> dict[str, int]:
    """Copy the images of `source` into `data_dir`/{train,val}/`name`; return the counts."""
    if not name or "/" in name or name.startswith("."):
        raise DataError(f"{name!r} is not a usable class (folder) name")
    targets = {split: data_dir / split / name for split in SPLITS}
    existing = [str(t) for t in targets.values() if t.exists()]
    if existing:
        raise DataError(f"Class {name!r} already exists: {', '.join(existing)}")
    files = image_files(source) if source.is_dir() else []
    if not files:
        raise EmptyClass(f"{source} holds no images for class {name!r}")
    split = split_files(files, val_fraction, seed)
    for part, chosen in split.items():
        targets[part].mkdir(parents=True)
        for i, path in enumerate(chosen):
            # numbered, so two files with the same name in sub-folders do not collide
            shutil.copy2(path, targets[part] / f"{i:05d}_{path.name}")
    return {part: len(chosen) for part, chosen in split.items()}
