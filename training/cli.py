"""The training command line. Each subcommand parses its arguments and calls one module.

python -m training data imagewoof [--root data/] [--url URL]
python -m training data add-class NAME DIR [--data data/imagewoof2-320]
python -m training data prepare DATA_DIR [--size 256] [--mode shorter|letterbox]
python -m training fit -c training/configs/efficientnet_b0.yaml [--epochs N ...]
python -m training tune -c CONFIG --data DIR --trials N [--timeout S] --out DIR [fit's flags]
python -m training reproduce-seed [--data DIR] [--ladder M1,M2] [fit's flags]
python -m training pretrain --method barlow --data DIR --epochs N [--batch-size N] --out RUN
python -m training export RUN_DIR [--name NAME] [--out DIR] [--int8]
python -m training evaluate MODEL_DIR DATA_DIR [--out DIR]
python -m training export-pretrained [--out models/]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from training.errors import TrainingError


def _export_pretrained(args: argparse.Namespace) -> None:
    from training.pretrained import export_pretrained

    for model in export_pretrained(args.out):
        print(f"wrote {model.path} ({len(model.labels)} labels)")


def _data_imagewoof(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from training.download import IMAGEWOOF, download_dataset
    from training.settings import DataSettings

    settings = DataSettings()
    url = args.url or settings.imagewoof_url
    # The expected counts describe fastai's archive only; another URL is checked for layout.
    source = IMAGEWOOF if url == IMAGEWOOF.url else replace(IMAGEWOOF, url=url, counts={})
    data_dir = download_dataset(source, args.root, settings.download_timeout_s, args.force)
    print(f"Imagewoof is in {data_dir} (train/ and val/, one folder per WordNet id)")


def _data_add_class(args: argparse.Namespace) -> None:
    from training.addclass import add_class
    from training.settings import DataSettings

    settings = DataSettings()
    fraction = args.val_fraction if args.val_fraction is not None else settings.val_fraction
    seed = args.seed if args.seed is not None else settings.split_seed
    counts = add_class(args.data, args.name, args.source, fraction, seed)
    print(f"added class {args.name!r} to {args.data}: {counts['train']} train, {counts['val']} val")


def _data_prepare(args: argparse.Namespace) -> None:
    from training.pack import pack

    crop = args.crop or args.size
    name = f"{args.data.name}-{args.size}-{crop}-{args.mode}-{args.interpolation}"
    out = args.out or args.data.parent / ".packed" / name
    report = pack(args.data, out, args.size, args.mode, args.interpolation, crop)
    print(json.dumps({"packed": str(out), **report.as_dict()}, indent=1))


def _fit_overrides(args: argparse.Namespace) -> dict[str, object]:
    return {
        "model": args.model, "data": args.data, "out": getattr(args, "out", None),
        "epochs": args.epochs,
        "batch_size": args.batch_size, "lr": args.lr, "input_size": args.input_size,
        "workers": args.workers, "device": args.device, "seed": args.seed,
        "pretrained": False if args.no_pretrained else None, "distill.teacher": args.teacher,
        "init": args.init, "barlow.weight": args.barlow_weight,
    }  # fmt: skip


def _fit(args: argparse.Namespace) -> None:
    from training.config import CONFIG_FILE, load_config
    from training.fit import fit

    overrides = _fit_overrides(args)
    config = load_config(args.config, overrides)
    if args.resume and (config.out / CONFIG_FILE).is_file():
        config = load_config(config.out / CONFIG_FILE, overrides)  # the run's own settings
    result = fit(config, resume=args.resume)
    print(f"{result.run_dir}: {result.epochs} epochs, best val accuracy {result.best_val_acc:.4f}")


def _tune(args: argparse.Namespace) -> None:
    from training.config import load_config
    from training.tune import tune

    overrides = _fit_overrides(args) | {"out": None}
    base = load_config(args.config, overrides)
    models = args.models.split(",") if args.models else None
    result = tune(base, args.out, args.trials, args.timeout, models, args.startup_trials)
    print(f"best val accuracy {result.best_value:.4f}; train it: fit -c {result.best_config}")


def _pretrain(args: argparse.Namespace) -> None:
    from training.pretrain import PretrainConfig, pretrain

    values = {
        "method": args.method, "model": args.model, "data": args.data, "out": args.out,
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "input_size": args.input_size, "lambd": args.lambd, "workers": args.workers,
        "device": args.device, "seed": args.seed, "pretrained": args.pretrained or None,
    }  # fmt: skip
    config = PretrainConfig.model_validate({k: v for k, v in values.items() if v is not None})
    result = pretrain(config)
    print(f"{result.backbone}: Barlow Twins loss {result.losses[0]:.2f} -> {result.losses[-1]:.2f}")


def _reproduce_seed(args: argparse.Namespace) -> None:
    from training.ladder import SEED, STUDENT, run_ladder

    ladder = args.ladder.split(",") if args.ladder else [m for m in SEED if m != STUDENT]
    overrides = {k: v for k, v in _fit_overrides(args).items() if v is not None and k != "out"}
    overrides.setdefault("data", Path("data/imagewoof2-320"))
    rungs = run_ladder(
        ladder, args.student or STUDENT, overrides, args.runs, args.models_dir, args.ceiling_s
    )
    print(f"{len(rungs)} models; table in {args.runs / 'SEED_TABLE.md'}")


def _export(args: argparse.Namespace) -> None:
    from training.export_run import export_run

    out = args.out or Path("models") / (args.name or args.run.name)
    for model in export_run(args.run, out, int8=args.int8):
        print(f"wrote {model.path} ({len(model.labels)} labels, {model.card['onnx_bytes']} bytes)")


def _evaluate(args: argparse.Namespace) -> None:
    from training.evaluate import evaluate, track_evaluation, write_evaluation

    evaluation = evaluate(args.model, args.data, args.batch_size)
    out = args.out or args.model / "eval"
    write_evaluation(evaluation, out)
    track_evaluation(evaluation, args.model, out)
    m = evaluation.metrics
    print(
        f"{m['model']} on {m['n_images']} images: accuracy {m['accuracy']:.4f}, "
        f"top-5 {m['top5']:.4f}, macro F1 {m['macro_f1']:.4f} ({m['n_skipped']} skipped)"
    )
    for row in evaluation.per_class:
        scores = " ".join(f"{k} {row[k]:.3f}" for k in ("precision", "recall", "f1"))
        print(f"  {row['class']:<24} {scores}")
    print(f"wrote {out}/")


def _add_data_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = commands.add_parser("data", help="download, extend and pack image folders")
    sub = data.add_subparsers(dest="data_command", required=True)
    woof = sub.add_parser("imagewoof", help="download, verify and unpack Imagewoof (320 px)")
    woof.add_argument("--root", type=Path, default=Path("data"), help="default: data/")
    woof.add_argument("--url", help="default: KENNEL_TRAINING_IMAGEWOOF_URL or fastai's S3")
    woof.add_argument("--force", action="store_true", help="download again even if unpacked")
    woof.set_defaults(handler=_data_imagewoof)
    add = sub.add_parser("add-class", help="add a class from a folder of images")
    add.add_argument("name")
    add.add_argument("source", type=Path, help="a folder of images")
    add.add_argument("--data", type=Path, default=Path("data/imagewoof2-320"))
    add.add_argument("--val-fraction", type=float, help="default: KENNEL_TRAINING_VAL_FRACTION")
    add.add_argument("--seed", type=int, help="default: KENNEL_TRAINING_SPLIT_SEED")
    add.set_defaults(handler=_data_add_class)
    prepare = sub.add_parser("prepare", help="resize once and pack into memory-mapped arrays")
    prepare.add_argument("data", type=Path)
    prepare.add_argument("--size", type=int, default=256, help="packed side (fit uses its own)")
    prepare.add_argument(
        "--crop", type=int, help="val images: the served center crop (default: --size)"
    )
    prepare.add_argument("--mode", choices=["shorter", "letterbox"], default="shorter")
    prepare.add_argument(
        "--interpolation", choices=["bicubic", "bilinear", "nearest"], default="bicubic"
    )
    prepare.add_argument("--out", type=Path)
    prepare.set_defaults(handler=_data_prepare)


def _add_fit_flags(fit: argparse.ArgumentParser) -> None:
    fit.add_argument("-c", "--config", type=Path, help="a YAML file in training/configs/")
    fit.add_argument("--model", help="any timm model name")
    fit.add_argument("--data", type=Path, help="a folder with train/ and val/")
    fit.add_argument("--epochs", type=int)
    fit.add_argument("--batch-size", type=int)
    fit.add_argument("--lr", type=float)
    fit.add_argument("--input-size", type=int, help="default: the model's pretrained_cfg")
    fit.add_argument("--workers", type=int)
    fit.add_argument("--device", choices=["auto", "cpu", "cuda"])
    fit.add_argument("--seed", type=int)
    fit.add_argument("--no-pretrained", action="store_true", help="random initialisation")
    fit.add_argument("--teacher", type=Path, help="distil from a model dir, run dir or .pt")
    fit.add_argument("--init", type=Path, help="start from a backbone.pt of `pretrain`")
    fit.add_argument(
        "--barlow-weight", type=float, help="add W * the Barlow Twins loss to cross-entropy"
    )


def _add_fit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fit = commands.add_parser("fit", help="fine-tune a timm model on DATA/{train,val}")
    _add_fit_flags(fit)
    fit.add_argument("--out", type=Path, help="the run directory")
    fit.add_argument("--resume", action="store_true", help="continue RUN_DIR/last.pt")
    fit.set_defaults(handler=_fit)

    tune = commands.add_parser("tune", help="search fit's hyper-parameters with Optuna")
    _add_fit_flags(tune)
    tune.add_argument("--out", type=Path, required=True, help="the study directory")
    tune.add_argument("--trials", type=int, required=True, help="trials the study should hold")
    tune.add_argument("--timeout", type=float, help="stop starting trials after S seconds")
    tune.add_argument("--models", help="comma-separated timm models to choose from")
    tune.add_argument(
        "--startup-trials", type=int, default=2, help="random trials before TPE and pruning"
    )
    tune.set_defaults(handler=_tune)

    pretrain = commands.add_parser("pretrain", help="self-supervised pretraining (Barlow Twins)")
    pretrain.add_argument("--method", choices=["barlow"], default="barlow")
    pretrain.add_argument("--model", help="any timm model name (default efficientnet_b0)")
    pretrain.add_argument("--data", type=Path, required=True, help="images, or DATA/train")
    pretrain.add_argument("--out", type=Path, required=True, help="the run directory")
    pretrain.add_argument("--epochs", type=int)
    pretrain.add_argument("--batch-size", type=int)
    pretrain.add_argument("--lr", type=float)
    pretrain.add_argument("--input-size", type=int)
    pretrain.add_argument("--lambd", type=float, help="off-diagonal weight (default 0.0051)")
    pretrain.add_argument("--workers", type=int)
    pretrain.add_argument("--device", choices=["auto", "cpu", "cuda"])
    pretrain.add_argument("--seed", type=int)
    pretrain.add_argument("--pretrained", action="store_true", help="start from ImageNet weights")
    pretrain.set_defaults(handler=_pretrain)

    seed = commands.add_parser("reproduce-seed", help="fit, export, evaluate the seed's ladder")
    _add_fit_flags(seed)
    seed.add_argument("--ladder", help="comma-separated models (default: B0-B4, ConvNeXt-T, Lite0)")
    seed.add_argument("--student", help="distilled from the best (default tf_efficientnet_lite0)")
    seed.add_argument("--runs", type=Path, default=Path("runs/seed"), help="default: runs/seed")
    seed.add_argument("--models-dir", type=Path, default=Path("models"), help="default: models/")
    seed.add_argument("--ceiling-s", type=float, default=5.0, help="seconds per batch size")
    seed.set_defaults(handler=_reproduce_seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(commands)
    _add_fit_commands(commands)

    export = commands.add_parser("export", help="export a run to a served model directory")
    export.add_argument("run", type=Path, help="the run directory of `fit`")
    export.add_argument("--name", help="default: the run directory's name")
    export.add_argument("--out", type=Path, help="default: models/NAME")
    export.add_argument("--int8", action="store_true", help="also write NAME-int8 (quantised)")
    export.set_defaults(handler=_export)

    evaluate = commands.add_parser("evaluate", help="evaluate a model directory, as served")
    evaluate.add_argument("model", type=Path, help="a model directory (models/NAME)")
    evaluate.add_argument("data", type=Path, help="an ImageFolder tree, e.g. DATA/val")
    evaluate.add_argument("--out", type=Path, help="default: MODEL_DIR/eval/")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.set_defaults(handler=_evaluate)

    pretrained = commands.add_parser(
        "export-pretrained",
        help="export the default imagenet and imagewoof models (EfficientNet-Lite0, no training)",
    )
    pretrained.add_argument("--out", type=Path, default=Path("models"), help="default: models/")
    pretrained.set_defaults(handler=_export_pretrained)
    return parser


def main(argv: list[str] | None = None) -> None:
    # kennel's own loggers at INFO; third parties (onnxruntime's quantiser logs every tensor
    # on the root logger) at WARNING
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("training", "worker"):
        logging.getLogger(name).setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (TrainingError, FileNotFoundError) as exc:
        logging.getLogger("training").error("%s", exc)
        sys.exit(2)
