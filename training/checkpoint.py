"""Checkpoints of a run: RUN_DIR/last.pt after every epoch, best.pt at the best val accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.config import FitConfig
from training.errors import TrainingError

LAST = "last.pt"
BEST = "best.pt"


def save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = path / BEST if (path / BEST).is_file() else path / LAST
    if not path.is_file():
        raise TrainingError(f"No checkpoint at {path}")
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def load_network(path: Path) -> tuple[nn.Module, FitConfig, list[str]]:
    """The trained network (eval mode), its resolved config and its classes."""
    import timm

    state = load(path)
    config = FitConfig.model_validate(state["config"])
    classes: list[str] = state["classes"]
    net = timm.create_model(config.model, pretrained=False, num_classes=len(classes))
    net.load_state_dict(state["model"])
    return net.eval(), config, classes
