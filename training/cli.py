"""The training command line. Each subcommand parses its arguments and calls one module."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def _export_pretrained(args: argparse.Namespace) -> None:
    from training.pretrained import export_pretrained

    for model in export_pretrained(args.out):
        print(f"wrote {model.path} ({len(model.labels)} labels)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    pretrained = commands.add_parser(
        "export-pretrained",
        help="export the default imagenet and imagewoof models (EfficientNet-Lite0, no training)",
    )
    pretrained.add_argument("--out", type=Path, default=Path("models"), help="default: models/")
    pretrained.set_defaults(run=_export_pretrained)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.run(args)
