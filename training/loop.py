"""One training epoch and one validation pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

from training.losses import LossFn


@dataclass(frozen=True)
class Device:
    name: str  # "cpu" or "cuda"

    @property
    def amp(self) -> bool:
        return self.name == "cuda"

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.name == "cuda" else torch.contiguous_format

    def put(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.name, non_blocking=True, memory_format=self.memory_format)


@dataclass
class Tally:
    loss: float = 0.0
    correct: float = 0.0
    top5: float = 0.0
    n: int = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        self.loss += float(loss) * len(targets)
        self.correct += float((top[:, 0] == targets).sum())
        self.top5 += float((top == targets[:, None]).any(dim=1).sum())
        self.n += len(targets)

    def means(self, prefix: str) -> dict[str, float]:
        n = max(1, self.n)
        return {
            f"{prefix}_loss": self.loss / n,
            f"{prefix}_acc": self.correct / n,
            f"{prefix}_top5": self.top5 / n,
        }


def train_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: LossFn,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    scaler: torch.amp.GradScaler,
    device: Device,
    desc: str,
) -> dict[str, float]:
    model.train()
    tally = Tally()
    bar = tqdm(batches, desc=desc, unit="batch", leave=False)
    for images, targets in bar:
        images, targets = device.put(images), targets.to(device.name)
        with torch.autocast(device.name, enabled=device.amp):
            logits = model(images)
            loss = loss_fn(logits, targets, images)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        tally.add(loss.detach(), logits.detach(), targets)
        bar.set_postfix(loss=f"{tally.loss / tally.n:.3f}", acc=f"{tally.correct / tally.n:.3f}")
    stats = tally.means("train")
    del stats["train_top5"]
    return stats


@torch.no_grad()
def validate(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: Device
) -> dict[str, float]:
    model.eval()
    tally = Tally()
    for images, targets in batches:
        images, targets = device.put(images), targets.to(device.name)
        with torch.autocast(device.name, enabled=device.amp):
            logits = model(images)
        loss = nn.functional.cross_entropy(logits.float(), targets)
        tally.add(loss, logits, targets)
    return tally.means("val")
