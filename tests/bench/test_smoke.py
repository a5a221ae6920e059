"""The benchmark runs end to end (tiny durations, one model, two levels): structure, not speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.report import README_END, README_START
from stack.processes import ROOT

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
SYSTEMS = ["kennel POST /predict", "kennel POST /jobs + long-poll", "naive server (no queue)"]


def _rows(markdown: str, header_start: str) -> list[list[str]]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_a_tiny_benchmark_measures_every_system_and_writes_its_tables(tmp_path: Path) -> None:
    out, readme = tmp_path / "BENCHMARKS.md", tmp_path / "README.md"
    readme.write_text(f"# kennel\n\n{README_START}\nold table\n{README_END}\n\nthe rest\n")
    argv = [
        sys.executable, "-m", "bench", "--clients", "1,2", "--seconds", "1", "--rounds", "1",
        "--ceiling-seconds", "0.3", "--ceiling-batches", "1", "--models", "imagewoof",
        "--out", str(out), "--plots", str(tmp_path / "plots"), "--var", str(tmp_path / "var"),
        "--readme", str(readme),
    ]  # fmt: skip
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    report = out.read_text()
    assert "logical cores" in report  # says what machine it ran on

    (model,) = _rows(report, "| model | params")
    assert model[0] == "imagewoof" and model[3] == "n/a"  # no eval/metrics.json: no accuracy
    assert all(NUMBER.match(cell) for cell in [model[1], model[2], *model[4:]]), model

    runs = _rows(report, "| model | system | clients")
    measured_levels = sorted((r[1], int(r[2])) for r in runs)
    assert measured_levels == sorted((s, c) for s in SYSTEMS for c in (1, 2))
    for run in runs:
        measured = [c for c in run[3:] if c != "n/a"]
        assert all(NUMBER.match(cell) for cell in measured), run
        assert int(run[-2]) > 0 and run[-1] == "0", run  # answers were checked: none wrong
    kennel = [r for r in runs if r[1].startswith("kennel")]
    assert all("n/a" not in r[7:10] for r in kennel)  # CPU of the API, the worker and Redis

    table = readme.read_text()
    assert "old table" not in table and table.endswith("the rest\n")
    assert table.count("| imagewoof |") == 1 + len(SYSTEMS)  # the ceiling, then each system
    for plot in ("throughput.png", "latency.png"):
        assert (tmp_path / "plots" / plot).read_bytes().startswith(b"\x89PNG")
