"""The benchmark runs end to end (tiny durations, one level, one model) and reports numbers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from stack.processes import ROOT
from stack.prometheus import find_prometheus

pytestmark = pytest.mark.system

NUMBER = re.compile(r"^-?\d+(\.\d+)?%?$")


def _rows(markdown: str, header_start: str) -> list[list[str]]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_a_tiny_benchmark_writes_a_table_of_numbers(tmp_path: Path) -> None:
    find_prometheus()  # the bench reads Prometheus when it is on PATH; installs it if missing
    out = tmp_path / "BENCHMARKS.md"
    argv = [
        sys.executable, "-m", "bench", "--users", "2", "--duration", "4",
        "--ceiling-seconds", "1", "--ceiling-batches", "1,4", "--ceiling-repeats", "1",
        "--models", "imagewoof",
        "--out", str(out), "--plots", str(tmp_path / "plots"), "--var", str(tmp_path / "var"),
    ]  # fmt: skip
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    report = out.read_text()

    (model,) = _rows(report, "| model | params")
    name, params, onnx_mb, accuracy, *measured = model
    assert name == "imagewoof"
    assert accuracy == "n/a"  # the default models carry no eval/metrics.json
    assert all(NUMBER.match(cell) for cell in [params, onnx_mb, *measured]), model

    (run,) = _rows(report, "| model | users")
    assert run[0] == "imagewoof"
    assert all(NUMBER.match(cell) for cell in run[1:]), run
    assert float(run[3]) > 0 and int(run[2]) > 0  # jobs/s and jobs
    assert "read from Prometheus" in report
    assert "efficientnet_b0 | 4.0 | 16.4 | 0.947 | 161 | 0.249" in report
    for plot in ("throughput.png", "latency.png"):
        assert (tmp_path / "plots" / plot).read_bytes().startswith(b"\x89PNG")
