"""Barlow Twins (Zbontar et al., 2021): two views of a batch, a projector, and a loss that
drives the cross-correlation of the two embeddings to the identity.

    loss = sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2,
    C = z1n^T z2n / N, with z1n, z2n the embeddings standardised over the batch.
"""

from __future__ import annotations

import torch
from torch import nn


def projector(in_features: int, dim: int) -> nn.Sequential:
    """The paper's projector (3 linear layers, batch norm and ReLU between), at width `dim`."""
    return nn.Sequential(
        nn.Linear(in_features, dim, bias=False),
        nn.BatchNorm1d(dim),
        nn.ReLU(inplace=True),
        nn.Linear(dim, dim, bias=False),
        nn.BatchNorm1d(dim),
        nn.ReLU(inplace=True),
        nn.Linear(dim, dim, bias=False),
    )


class BarlowTwinsLoss(nn.Module):
    def __init__(self, lambd: float) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        n = z1.shape[0]
        z1n = (z1 - z1.mean(0)) / (z1.std(0) + 1e-5)
        z2n = (z2 - z2.mean(0)) / (z2.std(0) + 1e-5)
        c = z1n.float().T @ z2n.float() / n
        diagonal = torch.diagonal(c)
        on_diag = (diagonal - 1).pow(2).sum()
        off_diag = c.pow(2).sum() - diagonal.pow(2).sum()
        return on_diag + self.lambd * off_diag


def second_view(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Another augmented view of an (already augmented, normalised) batch, per sample, on the
    batch's device: a random resized crop (scale 0.35-1), a horizontal flip and brightness /
    contrast jitter. Used by fit's joint variant, where the loader yields one view."""
    n = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.empty(n, device="cpu").uniform_(low, high, generator=generator)

    scale = uniform(0.35, 1.0).sqrt()
    shift_x = (1 - scale) * uniform(-1.0, 1.0)
    shift_y = (1 - scale) * uniform(-1.0, 1.0)
    flip = torch.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = scale * flip, shift_x
    theta[:, 1, 1], theta[:, 1, 2] = scale, shift_y
    theta = theta.to(images.device, images.dtype)
    grid = nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    view = nn.functional.grid_sample(images, grid, mode="bilinear", align_corners=False)
    contrast = uniform(0.6, 1.4).to(images.device, images.dtype)[:, None, None, None]
    brightness = uniform(-0.4, 0.4).to(images.device, images.dtype)[:, None, None, None]
    mean = view.mean(dim=(1, 2, 3), keepdim=True)
    return (view - mean) * contrast + mean + brightness
