"""Export a torch classifier to a model directory the workers serve (see worker/modeldir.py).

The ONNX graph ends in a softmax, so every served model outputs probabilities, optionally
restricted to a subset of its classes (not renormalised).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from worker.modeldir import MODEL_FILE, ModelDir, PreprocessConfig

OPSET = 17
PARITY_TOLERANCE = 1e-4


class Probabilities(nn.Module):
    """Softmax over the network's classes, then (optionally) keep only some of them."""

    keep_index: torch.Tensor

    def __init__(self, net: nn.Module, keep: list[int] | None = None) -> None:
        super().__init__()
        self.net = net
        self.keep = keep
        if keep is not None:
            self.register_buffer("keep_index", torch.tensor(keep, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probabilities: torch.Tensor = self.net(x).softmax(dim=-1)
        if self.keep is None:
            return probabilities
        return probabilities.index_select(1, self.keep_index)


def export_onnx(module: nn.Module, path: Path, input_size: int) -> None:
    module.eval()
    dummy = torch.zeros(2, 3, input_size, input_size)
    # The TorchScript exporter is deprecated (it warns about itself and its internals) but exact
    # for these CNNs and needs no onnxscript; parity with torch is checked on every export.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _export_torchscript(module, dummy, path)
    onnx.checker.check_model(onnx.load(str(path)))


def _export_torchscript(module: nn.Module, dummy: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        module,
        (dummy,),
        str(path),
        input_names=["input"],
        output_names=["probabilities"],
        dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )


def parity(module: nn.Module, onnx_path: Path, batch: torch.Tensor) -> float:
    """Max absolute difference between torch and ONNX Runtime on `batch`."""
    with torch.no_grad():
        expected = module.eval()(batch).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"input": batch.numpy()})
    return float(np.abs(np.asarray(actual) - expected).max())


def write_model_dir(
    module: nn.Module,
    out: Path,
    labels: list[str],
    preprocess: PreprocessConfig,
    card: dict[str, Any],
) -> ModelDir:
    """Export, check parity on a random batch, and write the metadata beside the ONNX file."""
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / MODEL_FILE
    export_onnx(module, onnx_path, preprocess.input_size)
    generator = torch.Generator().manual_seed(0)
    batch = torch.randn(4, 3, preprocess.input_size, preprocess.input_size, generator=generator)
    max_diff = parity(module, onnx_path, batch)
    if max_diff > PARITY_TOLERANCE:
        raise RuntimeError(
            f"ONNX Runtime differs from torch by {max_diff:.2e} > {PARITY_TOLERANCE}"
        )
    card = {
        **card,
        "parameters": sum(p.numel() for p in module.parameters()),
        "onnx_bytes": onnx_path.stat().st_size,
        "onnx_sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "opset": OPSET,
        "onnx_parity_max_abs_diff": max_diff,
        "torch": torch.__version__,
    }
    return ModelDir.write(out, labels, preprocess, card)
