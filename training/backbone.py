"""A backbone checkpoint: the weights of a timm model without its classifier (`pretrain`
writes RUN/backbone.pt; `fit --init` starts from it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.errors import TrainingError

BACKBONE_FILE = "backbone.pt"


def save_backbone(path: Path, model_name: str, backbone: nn.Module, meta: dict[str, Any]) -> None:
    state = {"model": model_name, "backbone": backbone.state_dict(), "meta": meta}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_backbone(path: Path, model_name: str, model: nn.Module) -> None:
    """Load a backbone into `model` (same timm architecture); its classifier stays as it is."""
    if path.is_dir():
        path = path / BACKBONE_FILE
    if not path.is_file():
        raise TrainingError(f"No backbone checkpoint at {path} (pretrain writes RUN/backbone.pt)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("model") != model_name:
        raise TrainingError(
            f"{path} holds a {state.get('model')} backbone; this run trains {model_name}"
        )
    missing, unexpected = model.load_state_dict(state["backbone"], strict=False)
    classifier = {f"{name}." for name, module in model.named_modules() if module is _head(model)}
    stray = [k for k in missing if not any(k.startswith(c) for c in classifier)]
    if stray or unexpected:
        raise TrainingError(
            f"{path} does not fit {model_name}: missing {stray[:5]}, unexpected {unexpected[:5]}"
        )


def _head(model: nn.Module) -> nn.Module:
    classifier = model.get_classifier()  # type: ignore[operator]  # timm's, untyped
    assert isinstance(classifier, nn.Module)
    return classifier
