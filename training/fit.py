"""Fine-tune a timm model on an ImageFolder tree (train/, val/) and keep the run in RUN_DIR.

RUN_DIR/config.yaml   the resolved configuration
RUN_DIR/run.json      classes, where the weights came from, the data report
RUN_DIR/last.pt       after every epoch (resume from it), best.pt at the best val accuracy
RUN_DIR/metrics.csv   one row per epoch; RUN_DIR/tensorboard/ the same for TensorBoard

The run is also recorded in MLflow (training/tracking.py); run.json keeps its run id.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timm.optim import create_optimizer_v2  # type: ignore[attr-defined]  # re-exported by timm
from torch import nn
from torch.utils.data import DataLoader

from training import checkpoint
from training.backbone import load_backbone
from training.barlow import projector
from training.config import CONFIG_FILE, FitConfig, save_config
from training.dataset import PackedImages, eval_transform, train_transform
from training.loop import Device, train_epoch, validate
from training.losses import Distillation, JointBarlow, LossFn, Supervised
from training.models import create_model, resolve_data_config
from training.pack import PackReport, pack
from training.runlog import METRICS_FILE, RunLog
from training.schedule import warmup_cosine
from training.teacher import load_teacher
from training.tracking import Tracker, tracked_run

log = logging.getLogger(__name__)
RUN_FILE = "run.json"
# Called after every epoch with its number and metrics (tune's pruning); may raise to stop.
EpochHook = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class FitResult:
    run_dir: Path
    epochs: int
    best_val_acc: float
    last: dict[str, float]


def pack_dir_for(config: FitConfig) -> Path:
    """Packed arrays live beside the data folder, one per (data, geometry, interpolation)."""
    c = config
    name = f"{c.data.name}-{c.resize}-{c.input_size}-{c.resize_mode}-{c.interpolation}"
    return config.data.parent / ".packed" / name


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(wanted: str) -> Device:
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            log.warning("device cuda asked for but torch sees no GPU: training on the CPU")
            return Device("cpu")
        return Device("cuda")
    return Device("cpu")


def _loaders(
    config: FitConfig, pack_dir: Path, generator: torch.Generator
) -> tuple[DataLoader[Any], DataLoader[Any]]:
    common: dict[str, Any] = {
        "batch_size": config.batch_size,
        "num_workers": config.workers,
        "persistent_workers": config.workers > 0,
        "pin_memory": torch.cuda.is_available(),
    }
    train = PackedImages(pack_dir, "train", train_transform(config))
    val = PackedImages(pack_dir, "val", eval_transform(config))
    return (
        DataLoader(
            train,
            shuffle=True,
            drop_last=len(train) > config.batch_size,
            generator=generator,
            **common,
        ),
        DataLoader(val, shuffle=False, **common),
    )


def _loss(config: FitConfig, classes: list[str], trainer: Trainer) -> LossFn:
    loss = _supervised_loss(config, classes, trainer.device)
    if trainer.projector is None:
        return loss
    log.info("adding the Barlow Twins term, weight %s", config.barlow.weight)
    return JointBarlow(
        loss, trainer.model, trainer.projector, config.barlow.lambd, config.barlow.weight
    )


def _supervised_loss(config: FitConfig, classes: list[str], device: Device) -> LossFn:
    distill = config.distill
    if distill.teacher is None:
        return Supervised(config.label_smoothing)
    assert config.mean is not None and config.std is not None
    teacher = load_teacher(distill.teacher, classes, config.mean, config.std, device.name)
    log.info(
        "distilling from %s (T=%s, alpha=%s)", distill.teacher, distill.temperature, distill.alpha
    )
    return Distillation(teacher, distill.temperature, distill.alpha, config.label_smoothing)


def _write_run(
    run_dir: Path, classes: list[str], weights: str, report: PackReport, tracking_id: str | None
) -> None:
    run = {
        "classes": classes,
        "weights": weights,
        "data": report.as_dict(),
        "mlflow_run_id": tracking_id,
    }
    (run_dir / RUN_FILE).write_text(json.dumps(run, indent=1, default=str) + "\n")


def tracking_id_of(run_dir: Path) -> str | None:
    """The MLflow run id of a run directory, if it was recorded."""
    path = run_dir / RUN_FILE
    run_id = json.loads(path.read_text()).get("mlflow_run_id") if path.is_file() else None
    return str(run_id) if run_id else None


@dataclass
class Trainer:
    """What one run trains with; its state is what a checkpoint holds."""

    config: FitConfig
    classes: list[str]
    weights: str
    device: Device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    train_loader: DataLoader[Any]
    val_loader: DataLoader[Any]
    projector: nn.Module | None = None  # the joint Barlow Twins variant's
    best_val_acc: float = 0.0
    hooks: list[EpochHook] = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)

    def state(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "best_val_acc": self.best_val_acc,
            "classes": self.classes,
            "config": self.config.model_dump(mode="json"),
            "weights": self.weights,
            "projector": self.projector.state_dict() if self.projector is not None else None,
        }

    def restore(self, state: dict[str, Any]) -> int:
        """Load a checkpoint; return the epoch it ended."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.projector is not None and state.get("projector") is not None:
            self.projector.load_state_dict(state["projector"])
        self.best_val_acc, self.weights = state["best_val_acc"], state["weights"]
        # The saved lr belongs to the old schedule when --epochs grew: recompute it.
        scheduler = self.scheduler
        for group, base, factor in zip(
            self.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True
        ):
            group["lr"] = base * factor(scheduler.last_epoch)
        return int(state["epoch"])


def _network(config: FitConfig, n_classes: int) -> tuple[nn.Module, str]:
    """The timm model and where its weights came from (a `pretrain` backbone with --init)."""
    kwargs = {"drop_rate": config.drop_rate, "drop_path_rate": config.drop_path_rate}
    if config.init is None:
        return create_model(
            config.model, n_classes, config.pretrained, config.hub_timeout_s, **kwargs
        )
    model, _ = create_model(config.model, n_classes, False, **kwargs)
    load_backbone(config.init, config.model, model)
    log.info("initialised %s from the backbone %s", config.model, config.init)
    return model, f"backbone {config.init}"


def build_trainer(config: FitConfig, classes: list[str], pack_dir: Path) -> Trainer:
    generator = seed_everything(config.seed)
    train_loader, val_loader = _loaders(config, pack_dir, generator)
    device = pick_device(config.device)
    model, weights = _network(config, len(classes))
    model = model.to(device.name).to(memory_format=device.memory_format)
    head: nn.Module | None = None
    trained: nn.Module = model
    if config.barlow.weight > 0:
        num_features = int(model.num_features)  # type: ignore[arg-type]  # every timm model's
        head = projector(num_features, config.barlow.projector_dim).to(device.name)
        trained = nn.ModuleDict({"model": model, "projector": head})
    optimizer = create_optimizer_v2(
        trained, "adamw", lr=config.lr, weight_decay=config.weight_decay
    )
    steps = len(train_loader)
    scheduler = warmup_cosine(
        optimizer, round(config.warmup_epochs * steps), config.epochs * steps, config.min_lr_ratio
    )
    scaler = torch.amp.GradScaler(device.name, enabled=device.amp)
    return Trainer(
        config, classes, weights, device, model, optimizer, scheduler, scaler,
        train_loader, val_loader, head,
    )  # fmt: skip


def fit(config: FitConfig, resume: bool = False, hooks: list[EpochHook] | None = None) -> FitResult:
    config = resolve_data_config(config)
    run_dir = config.out
    run_dir.mkdir(parents=True, exist_ok=True)
    assert config.interpolation is not None
    pack_dir = pack_dir_for(config)
    report = pack(
        config.data,
        pack_dir,
        config.resize,
        config.resize_mode,
        config.interpolation,
        crop=config.input_size,
    )
    trainer = build_trainer(config, report.classes, pack_dir)
    trainer.hooks = list(hooks or [])
    start = trainer.restore(checkpoint.load(run_dir / checkpoint.LAST)) if resume else 0
    if resume:
        log.info("resuming %s after epoch %d (best %.4f)", run_dir, start, trainer.best_val_acc)
    previous = tracking_id_of(run_dir) if resume else None
    params = config.model_dump(mode="json")
    with tracked_run("fit", run_dir.name, params, resume_id=previous) as tracker:
        save_config(config, run_dir)
        _write_run(run_dir, report.classes, trainer.weights, report, tracker.run_id)
        _train(trainer, _loss(config, report.classes, trainer), start, tracker)
        for name in (CONFIG_FILE, RUN_FILE, METRICS_FILE):
            tracker.log_artifact(run_dir / name)
    return FitResult(run_dir, config.epochs, trainer.best_val_acc, trainer.last)


def _train(trainer: Trainer, loss_fn: LossFn, start: int, tracker: Tracker) -> None:
    run_dir = trainer.config.out
    with RunLog(run_dir) as runlog:
        for epoch in range(start + 1, trainer.config.epochs + 1):
            last = _epoch(trainer, loss_fn, epoch)
            trainer.last = last
            runlog.append(last)
            tracker.log_metrics({k: v for k, v in last.items() if k != "epoch"}, step=epoch)
            improved = last["val_acc"] > trainer.best_val_acc or epoch == 1
            trainer.best_val_acc = max(trainer.best_val_acc, last["val_acc"])
            state = trainer.state(epoch)
            checkpoint.save(run_dir / checkpoint.LAST, state)
            if improved:
                checkpoint.save(run_dir / checkpoint.BEST, state)
            for hook in trainer.hooks:
                hook(epoch, last)


def _epoch(trainer: Trainer, loss_fn: LossFn, epoch: int) -> dict[str, float]:
    started = time.perf_counter()
    epochs = trainer.config.epochs
    row: dict[str, float] = {"epoch": epoch, "lr": trainer.optimizer.param_groups[0]["lr"]}
    row |= train_epoch(
        trainer.model, trainer.train_loader, loss_fn, trainer.optimizer, trainer.scheduler,
        trainer.scaler, trainer.device, f"epoch {epoch}/{epochs}",
    )  # fmt: skip
    row |= validate(trainer.model, trainer.val_loader, trainer.device)
    row["seconds"] = round(time.perf_counter() - started, 2)
    log.info(
        "epoch %d/%d: train loss %.4f acc %.4f, val loss %.4f acc %.4f top5 %.4f (%.1fs)",
        epoch, epochs, row["train_loss"], row["train_acc"], row["val_loss"], row["val_acc"],
        row["val_top5"], row["seconds"],
    )  # fmt: skip
    return row
