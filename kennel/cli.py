"""`python -m kennel classify PHOTO...`: classify photos through a running kennel, as a table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import httpx

from jobs.contract import Job
from kennel.client import Client
from kennel.errors import KennelError
from kennel.settings import ClientSettings


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m kennel", description=__doc__)
    commands = cli.add_subparsers(dest="command", required=True)
    classify = commands.add_parser("classify", help="classify photos and print a table")
    classify.add_argument("photos", nargs="+", type=Path, metavar="PHOTO")
    classify.add_argument("--model", help="the model to ask (default: the server's)")
    classify.add_argument("--top-k", type=int, default=3, help="predictions per photo (3)")
    classify.add_argument("--url", help="kennel's API (default: KENNEL_URL, else 127.0.0.1:8000)")
    classify.add_argument("--timeout", type=float, default=120, help="seconds to wait (120)")
    return cli


def table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    header = ("photo", "#", "label", "score")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(4)]
    lines = [
        "  ".join(
            c.rjust(w) if i in (1, 3) else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in (header, *rows)
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def rows_for(name: str, outcome: Job | KennelError) -> list[tuple[str, str, str, str]]:
    if isinstance(outcome, KennelError):
        return [(name, "", f"error: {outcome.code}: {outcome.message}", "")]
    if outcome.result is None:
        message = outcome.error.message if outcome.error else outcome.status
        code = outcome.error.code if outcome.error else outcome.status
        return [(name, "", f"{outcome.status}: {code}: {message}", "")]
    return [
        (name if rank == 1 else "", str(rank), p.label, f"{p.score:.1%}")
        for rank, p in enumerate(outcome.result.predictions, start=1)
    ]


def classify(client: Client, args: argparse.Namespace) -> list[Job | KennelError]:
    """Submit every photo first (so a worker batches them), then wait for each."""
    submitted: list[Job | KennelError] = []
    for path in args.photos:
        try:
            submitted.append(client.submit(path, args.model, args.top_k))
        except KennelError as exc:
            submitted.append(exc)
        except OSError as exc:
            submitted.append(KennelError("unreadable_file", str(exc)))
    return [
        outcome if isinstance(outcome, KennelError) else _ended(client, outcome, args.timeout)
        for outcome in submitted
    ]


def _ended(client: Client, job: Job, timeout_s: float) -> Job | KennelError:
    try:
        return client.wait(job.id, timeout_s)
    except KennelError as exc:  # WaitTimedOut included: the table says so
        return exc


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    settings = ClientSettings()
    key = settings.api_key.get_secret_value() if settings.api_key else None
    url = args.url or settings.url
    try:
        with Client(url, api_key=key) as client:
            outcomes = classify(client, args)
    except httpx.TransportError as exc:
        out.write(f"kennel at {url} is unreachable: {exc}\n")
        return 2
    rows = [
        row for path, o in zip(args.photos, outcomes, strict=True) for row in rows_for(path.name, o)
    ]
    out.write(table(rows) + "\n")
    return 0 if all(isinstance(o, Job) and o.result is not None for o in outcomes) else 1
