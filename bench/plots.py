"""The benchmark's PNG plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.report import Row, Summary


def ratio(summary: Summary, path: Path) -> Path:
    """Each system's throughput as a share of the in-process ceiling, against clients."""
    return _per_model(summary, path, "share of the in-process ceiling", lambda r: r.ratio,
                      ceiling_line=True)  # fmt: skip


def latency(summary: Summary, path: Path) -> Path:
    return _per_model(summary, path, "p99 latency (ms)", lambda r: r.p99_ms, ceiling_line=False)


def _per_model(summary: Summary, path: Path, ylabel: str, value: Callable[[Row], float],
               ceiling_line: bool) -> Path:  # fmt: skip
    models = [c.facts.name for c in summary.ceilings]
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for i, system in enumerate(summary.systems):
            rows = [r for r in summary.rows if r.model == model and r.system == system]
            ax.plot([r.clients for r in rows], [value(r) for r in rows], "o-", color=f"C{i}",
                    label=system)  # fmt: skip
        if ceiling_line:
            ax.axhline(1.0, color="k", ls="--", lw=1, label="in-process ceiling")
        ax.set(xlabel="concurrent clients", ylabel=ylabel, title=model, xscale="log",
               ylim=(0, None))  # fmt: skip
        _client_ticks(ax, summary)
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    return _save(fig, path)


def _client_ticks(ax: Axes, summary: Summary) -> None:
    clients = sorted({r.clients for r in summary.rows})
    ax.set_xticks(clients, [str(c) for c in clients])
    ax.minorticks_off()


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
