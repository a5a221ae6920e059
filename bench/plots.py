"""The benchmark's PNG plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.report import ModelBench


def throughput(benches: list[ModelBench], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, b in enumerate(benches):
        color = f"C{i}"
        users = [r.load.users for r in b.runs]
        ax.plot(users, [r.load.jobs_per_s for r in b.runs], "o-", color=color, label=b.facts.name)
        ax.axhline(b.ceiling_images_per_s, color=color, ls="--", lw=1,
                   label=f"{b.facts.name} ceiling (in-process)")  # fmt: skip
    ax.set(xlabel="concurrent users", ylabel="jobs / s", title="Throughput vs concurrency",
           xscale="log", ylim=(0, None))  # fmt: skip
    _user_ticks(ax, benches)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def latency(benches: list[ModelBench], path: Path) -> Path:
    fig, axes = plt.subplots(1, len(benches), figsize=(5 * len(benches), 4.5), squeeze=False)
    for ax, b in zip(axes[0], benches, strict=True):
        users = [r.load.users for r in b.runs]
        for q in ("p50", "p95", "p99"):
            ax.plot(users, [getattr(r.load, f"{q}_ms") / 1000 for r in b.runs], "o-", label=q)
        ax.set(xlabel="concurrent users", ylabel="end-to-end latency (s)", title=b.facts.name,
               xscale="log", ylim=(0, None))  # fmt: skip
        _user_ticks(ax, [b])
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("Job latency percentiles (submit to result, seen by the client)")
    return _save(fig, path)


def _user_ticks(ax: Axes, benches: list[ModelBench]) -> None:
    users = sorted({r.load.users for b in benches for r in b.runs})
    ax.set_xticks(users, [str(u) for u in users])
    ax.minorticks_off()


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
