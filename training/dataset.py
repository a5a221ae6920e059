"""Packed images (see pack.py) as torch datasets, with the training augmentations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import InterpolationMode, v2

from training.config import FitConfig
from training.pack import load_split


def train_transform(config: FitConfig) -> v2.Transform:
    assert config.input_size is not None and config.interpolation is not None
    aug = config.augment
    steps: list[v2.Transform] = [
        v2.RandomResizedCrop(
            config.input_size,
            scale=(aug.scale_min, 1.0),
            interpolation=InterpolationMode(config.interpolation),
            antialias=True,
        ),
        v2.RandomHorizontalFlip(aug.hflip),
    ]
    if aug.rotation > 0:
        steps.append(v2.RandomRotation(aug.rotation))
    if aug.color_jitter > 0:
        steps.append(v2.ColorJitter(aug.color_jitter, aug.color_jitter, aug.color_jitter))
    return v2.Compose([*steps, *_normalise(config)])


def eval_transform(config: FitConfig) -> v2.Transform:
    """The served normalisation: packed val images already are the served crop (pack.py)."""
    return v2.Compose(_normalise(config))


def _normalise(config: FitConfig) -> list[v2.Transform]:
    assert config.mean is not None and config.std is not None
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(config.mean, config.std)]


class PackedImages(Dataset[tuple[torch.Tensor, int]]):
    """One split of a pack directory; the array is opened lazily in each loader process."""

    def __init__(self, pack_dir: Path, split: str, transform: v2.Transform) -> None:
        self.pack_dir = pack_dir
        self.split = split
        self.transform = transform
        self.labels = np.load(pack_dir / split / "labels.npy")
        self._images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if self._images is None:
            self._images, _ = load_split(self.pack_dir, self.split)
        image = torch.from_numpy(np.array(self._images[index])).permute(2, 0, 1)
        return self.transform(image), int(self.labels[index])
