"""Per-epoch metrics of a run: RUN_DIR/metrics.csv (appended, so a resumed run continues it)
and TensorBoard event files in RUN_DIR/tensorboard/."""

from __future__ import annotations

import csv
from pathlib import Path
from types import TracebackType
from typing import Any

METRICS_FILE = "metrics.csv"
FIELDS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_top5", "seconds")


class RunLog:
    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.path = run_dir / METRICS_FILE
        self._writer = SummaryWriter(str(run_dir / "tensorboard"))

    def append(self, row: dict[str, Any]) -> None:
        new = not self.path.is_file()
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: row[k] for k in FIELDS})
        for key in FIELDS[1:]:
            self._writer.add_scalar(key, row[key], row["epoch"])
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
