"""Self-supervised pretraining of a backbone with Barlow Twins on unlabelled images.

OUT/config.yaml    the resolved configuration
OUT/images.npy     the images, cut once (as fit's train split is) and memory-mapped
OUT/metrics.csv    one row per epoch: epoch, lr, loss, seconds
OUT/backbone.pt    the backbone after the last epoch: `fit --init OUT/backbone.pt`

DATA is a folder tree of images, or an ImageFolder tree whose train/ split is used with its
labels ignored. The run is recorded in MLflow (training/tracking.py).
"""

from __future__ import annotations

import csv
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import timm
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field
from timm.optim import create_optimizer_v2  # type: ignore[attr-defined]  # re-exported by timm
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import InterpolationMode, v2
from tqdm import tqdm

from training.backbone import BACKBONE_FILE, save_backbone
from training.barlow import BarlowTwinsLoss, projector
from training.errors import DataError, SkippedImageWarning
from training.fit import pick_device, seed_everything
from training.imagefolder import image_files
from training.loop import Device
from training.pack import Geometry, cut
from training.schedule import warmup_cosine
from training.tracking import tracked_run
from worker.errors import DecodeFailed

log = logging.getLogger(__name__)
IMAGES_FILE = "images.npy"
METRICS_FILE = "metrics.csv"


class PretrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["barlow"] = "barlow"
    model: str = "efficientnet_b0"
    data: Path = Path("data/imagewoof2-320")
    out: Path = Path("runs/pretrain-efficientnet_b0")
    pretrained: bool = Field(False, description="Start from ImageNet weights, not random ones.")
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(128, ge=2)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_epochs: float = Field(2.0, ge=0)
    lambd: float = Field(0.0051, gt=0, description="Weight of the off-diagonal term (lambda).")
    projector_dim: int = Field(2048, ge=8)
    input_size: int | None = Field(None, description="Default: the model's pretrained_cfg.")
    scale_min: float = Field(0.2, gt=0, le=1, description="RandomResizedCrop's smallest area.")
    seed: int = 0
    workers: int = Field(2, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"


@dataclass(frozen=True)
class PretrainResult:
    out: Path
    backbone: Path
    losses: list[float]


def resolve(config: PretrainConfig) -> PretrainConfig:
    cfg = timm.get_pretrained_cfg(config.model)
    size = cfg.input_size[-1] if cfg is not None else 224
    return config.model_copy(update={"input_size": config.input_size or size})


def unlabelled_files(data: Path) -> list[Path]:
    folder = data / "train" if (data / "train").is_dir() else data
    files = image_files(folder) if folder.is_dir() else []
    if not files:
        raise DataError(f"No images under {folder}")
    return files


def pack_unlabelled(files: list[Path], path: Path, side: int) -> np.ndarray:
    """Cut every readable image to `side` x `side` (as fit's train split), into `path`."""
    images = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.uint8, shape=(len(files), side, side, 3)
    )
    kept = 0
    for file in tqdm(files, desc="packing", unit="img", leave=False):
        try:
            images[kept] = np.asarray(cut(file.read_bytes(), Geometry(side, side), "train"))
            kept += 1
        except DecodeFailed as exc:
            warnings.warn(f"skipping unreadable {file}: {exc}", SkippedImageWarning, stacklevel=2)
    images.flush()
    return np.asarray(images[:kept])


def view_transform(
    config: PretrainConfig, mean: tuple[float, ...], std: tuple[float, ...]
) -> v2.Transform:
    """One Barlow Twins view: crop, flip, colour jitter, grayscale and blur (as in the paper)."""
    assert config.input_size is not None
    blur = max(3, config.input_size // 10 * 2 + 1)
    return v2.Compose([
        v2.RandomResizedCrop(
            config.input_size, scale=(config.scale_min, 1.0),
            interpolation=InterpolationMode.BICUBIC, antialias=True,
        ),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        v2.RandomGrayscale(0.2),
        v2.RandomApply([v2.GaussianBlur(blur, sigma=(0.1, 2.0))], p=0.5),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean, std),
    ])  # fmt: skip


class TwoViews(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(self, images: np.ndarray, transform: v2.Transform) -> None:
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(np.array(self.images[index])).permute(2, 0, 1)
        return self.transform(image), self.transform(image)


class BarlowTwins(nn.Module):
    """A timm backbone (no classifier: it returns pooled features) and the projector."""

    def __init__(self, config: PretrainConfig) -> None:
        super().__init__()
        self.backbone = timm.create_model(config.model, pretrained=config.pretrained, num_classes=0)
        features = int(self.backbone.num_features)  # type: ignore[arg-type]  # every timm model's
        self.projector = projector(features, config.projector_dim)
        self.loss = BarlowTwinsLoss(config.lambd)

    def forward(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        z1 = self.projector(self.backbone(view1))
        z2 = self.projector(self.backbone(view2))
        loss: torch.Tensor = self.loss(z1, z2)
        return loss


def _epoch(
    net: BarlowTwins,
    loader: DataLoader[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    device: Device,
    desc: str,
) -> float:
    net.train()
    total, n = 0.0, 0
    scaler = torch.amp.GradScaler(device.name, enabled=device.amp)
    for view1, view2 in tqdm(loader, desc=desc, unit="batch", leave=False):
        with torch.autocast(device.name, enabled=device.amp):
            loss = net(device.put(view1), device.put(view2))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total += float(loss.detach()) * len(view1)
        n += len(view1)
    return total / max(1, n)


def _loader(config: PretrainConfig, images: np.ndarray) -> DataLoader[Any]:
    cfg = timm.get_pretrained_cfg(config.model)
    defaults: dict[str, Any] = cfg.to_dict() if cfg is not None else {}  # type: ignore[no-untyped-call]
    mean = tuple(defaults.get("mean", (0.485, 0.456, 0.406)))  # as fit normalises
    std = tuple(defaults.get("std", (0.229, 0.224, 0.225)))
    return DataLoader(
        TwoViews(images, view_transform(config, mean, std)),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=len(images) > config.batch_size,  # batch norm wants no batch of one
        num_workers=config.workers,
        persistent_workers=config.workers > 0,
        generator=torch.Generator().manual_seed(config.seed),
    )


def pretrain(config: PretrainConfig) -> PretrainResult:
    config = resolve(config)
    assert config.input_size is not None
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    )
    seed_everything(config.seed)
    images = pack_unlabelled(unlabelled_files(config.data), out / IMAGES_FILE, config.input_size)
    log.info("pretraining %s on %d unlabelled images", config.model, len(images))
    device = pick_device(config.device)
    net = BarlowTwins(config).to(device.name)
    loader = _loader(config, images)
    optimizer = create_optimizer_v2(net, "adamw", lr=config.lr, weight_decay=config.weight_decay)
    steps = len(loader)
    scheduler = warmup_cosine(
        optimizer, round(config.warmup_epochs * steps), config.epochs * steps, 0.01
    )
    losses: list[float] = []
    with tracked_run("pretrain", out.name, config.model_dump(mode="json")) as tracker:
        for epoch in range(1, config.epochs + 1):
            started, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
            loss = _epoch(
                net, loader, optimizer, scheduler, device, f"epoch {epoch}/{config.epochs}"
            )
            row = {"epoch": epoch, "lr": lr, "loss": loss, "seconds": time.perf_counter() - started}
            _append(out / METRICS_FILE, row)
            tracker.log_metrics({"loss": loss, "lr": lr}, step=epoch)
            log.info("epoch %d/%d: Barlow Twins loss %.4f", epoch, config.epochs, loss)
            losses.append(loss)
            save_backbone(out / BACKBONE_FILE, config.model, net.backbone, {"epoch": epoch})
        tracker.log_artifact(out / METRICS_FILE)
        tracker.log_artifact(out / "config.yaml")
    return PretrainResult(out, out / BACKBONE_FILE, losses)


def _append(path: Path, row: dict[str, float]) -> None:
    new = epoch_one = row["epoch"] == 1
    with path.open("w" if epoch_one else "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
