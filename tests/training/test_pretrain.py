"""Barlow Twins pretraining: its loss falls, and its backbone is a better start than a random
one: a linear probe on its frozen features beats the same probe on a random backbone's."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from training.backbone import load_backbone
from training.pretrain import PretrainConfig, PretrainResult, pretrain

TEXTURES = ("horizontal", "vertical", "checks", "rings")
SIDE = 24


def draw_texture(kind: str, rng: random.Random, side: int = SIDE) -> Image.Image:
    """A texture of random colours, period and phase: the class is the pattern, not a colour."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float64)
    period = rng.uniform(5.0, 9.0)
    phase = rng.uniform(0, 2 * math.pi)
    if kind == "horizontal":
        wave = np.sin(2 * np.pi * y / period + phase)
    elif kind == "vertical":
        wave = np.sin(2 * np.pi * x / period + phase)
    elif kind == "checks":
        wave = np.sin(2 * np.pi * x / period + phase) * np.sin(2 * np.pi * y / period)
    else:
        cx, cy = rng.uniform(0, side), rng.uniform(0, side)
        wave = np.sin(2 * np.pi * np.hypot(x - cx, y - cy) / period + phase)
    a = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float64)
    b = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float64)
    mix = (wave[..., None] > 0).astype(np.float64)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 12, (side, side, 3))
    pixels = np.clip(mix * a + (1 - mix) * b + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def make_textures(root: Path, n_train: int, n_val: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for kind in TEXTURES:
            folder = root / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                draw_texture(kind, rng).save(folder / f"{kind}_{i:03d}.png")
    return root


def features(backbone: torch.nn.Module, files: list[Path], model: str) -> torch.Tensor:
    cfg = timm.get_pretrained_cfg(model)
    assert cfg is not None
    mean = torch.tensor(cfg.mean)[:, None, None]
    std = torch.tensor(cfg.std)[:, None, None]
    batch = torch.stack(
        [
            (torch.from_numpy(np.asarray(Image.open(f).convert("RGB"))).permute(2, 0, 1) / 255.0 - mean)
            / std
            for f in files
        ]
    )
    with torch.no_grad():
        out: torch.Tensor = backbone.eval()(batch.float())
    return out


def linear_probe(backbone: torch.nn.Module, data: Path, model: str) -> float:
    """Val accuracy of a logistic regression on the frozen backbone's standardised features."""
    split = {}
    for name in ("train", "val"):
        files = sorted((data / name).glob("*/*.png"))
        labels = torch.tensor([TEXTURES.index(f.parent.name) for f in files])
        split[name] = (features(backbone, files, model), labels)
    x, y = split["train"]
    mean, std = x.mean(0), x.std(0) + 1e-6
    torch.manual_seed(0)
    probe = torch.nn.Linear(x.shape[1], len(TEXTURES))
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(300):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(probe((x - mean) / std), y).backward()
        optimizer.step()
    xv, yv = split["val"]
    return float((probe((xv - mean) / std).argmax(1) == yv).float().mean())
