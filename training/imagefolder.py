"""ImageFolder trees: one folder per class, the class name is the folder name.

DATA_DIR/train/<class>/*.jpg
DATA_DIR/val/<class>/*.jpg
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.errors import DataError, EmptyClass

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".jfif"}
)
SPLITS = ("train", "val")


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


def is_image_file(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if is_image_file(p))


def class_names(split_dir: Path) -> list[str]:
    if not split_dir.is_dir():
        raise DataError(f"{split_dir} does not exist: expected one folder per class in it")
    names = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DataError(f"{split_dir} has no class folders")
    return names


def scan(split_dir: Path, classes: list[str] | None = None) -> tuple[list[str], list[Sample]]:
    """The classes (sorted folder names unless given) and every image file, by class."""
    classes = classes if classes is not None else class_names(split_dir)
    samples: list[Sample] = []
    for label, name in enumerate(classes):
        files = image_files(split_dir / name) if (split_dir / name).is_dir() else []
        if not files:
            raise EmptyClass(
                f"Class {name!r} has no images in {split_dir / name} "
                f"(looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        samples.extend(Sample(path, label) for path in files)
    return classes, samples


def check_splits(data_dir: Path) -> list[str]:
    """The class names, after checking that train/ and val/ hold the same classes."""
    train = class_names(data_dir / "train")
    val = class_names(data_dir / "val")
    if train != val:
        raise DataError(
            f"train/ and val/ in {data_dir} hold different classes: "
            f"only in train {sorted(set(train) - set(val))}, "
            f"only in val {sorted(set(val) - set(train))}"
        )
    return train
