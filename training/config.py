"""The fit configuration: a YAML file in training/configs/, then command-line overrides.

Fields left at None (input size, crop, interpolation, mean, std) are resolved from the timm
model's `pretrained_cfg`, and the resolved config is saved in the run directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

CONFIG_FILE = "config.yaml"


class AugmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale_min: float = Field(0.35, gt=0, le=1, description="RandomResizedCrop's smallest area.")
    hflip: float = Field(0.5, ge=0, le=1, description="Probability of a horizontal flip.")
    rotation: float = Field(10.0, ge=0, description="Max rotation in degrees.")
    color_jitter: float = Field(0.2, ge=0, description="Brightness/contrast/saturation jitter.")


class DistillConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    teacher: Path | None = Field(None, description="A model directory, a run or a checkpoint.")
    temperature: float = Field(4.0, gt=0)
    alpha: float = Field(0.7, ge=0, le=1, description="Weight of the teacher's term (KL).")


class BarlowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = Field(
        0.0, ge=0, description="fit: weight of the Barlow Twins term added to the loss (0: off)."
    )
    lambd: float = Field(0.0051, gt=0, description="Weight of the off-diagonal term (lambda).")
    projector_dim: int = Field(512, ge=8, description="Width of the projector's layers.")


class FitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "efficientnet_b0"
    data: Path = Path("data/imagewoof2-320")
    out: Path = Path("runs/efficientnet_b0")
    pretrained: bool = True
    hub_timeout_s: float = Field(5.0, description="How long to wait for the timm weights hub.")
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.05, ge=0)
    warmup_epochs: float = Field(1.0, ge=0)
    min_lr_ratio: float = Field(0.01, ge=0, le=1)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    drop_rate: float = Field(0.2, ge=0, lt=1, description="Dropout before the classifier.")
    drop_path_rate: float = Field(0.0, ge=0, lt=1, description="Stochastic depth.")
    seed: int = 0
    workers: int = Field(2, ge=0, description="DataLoader worker processes.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    resize_mode: Literal["shorter", "letterbox"] = "shorter"
    input_size: int | None = None
    crop_pct: float | None = None
    interpolation: Literal["bicubic", "bilinear", "nearest"] | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    augment: AugmentConfig = AugmentConfig()
    distill: DistillConfig = DistillConfig()
    init: Path | None = Field(None, description="Start from a backbone.pt of `pretrain`.")
    barlow: BarlowConfig = BarlowConfig()

    @property
    def resize(self) -> int:
        """The short side before the center crop, as served: round(input_size / crop_pct)."""
        assert self.input_size is not None and self.crop_pct is not None
        return round(self.input_size / self.crop_pct)


def load_config(path: Path | None, overrides: dict[str, Any]) -> FitConfig:
    """The YAML file (if any) with the non-None `overrides` on top ("a.b" keys reach nested)."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = yaml.safe_load(path.read_text()) or {}
    for key, value in overrides.items():
        if value is None:
            continue
        node = raw
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return FitConfig.model_validate(raw)


def save_config(config: FitConfig, run_dir: Path) -> None:
    (run_dir / CONFIG_FILE).write_text(
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    )


def read_run_config(run_dir: Path) -> FitConfig:
    return FitConfig.model_validate(yaml.safe_load((run_dir / CONFIG_FILE).read_text()))
