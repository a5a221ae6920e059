"""Int8 copies of a model directory (ONNX Runtime dynamic quantisation of the weights)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

from worker.modeldir import MODEL_FILE, ModelDir

log = logging.getLogger(__name__)


def _run(path: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": batch})
    return np.asarray(out)


def quantize_model_dir(model: ModelDir, out: Path) -> ModelDir:
    """Quantise `model` into `out`; the card records how far it moved on a probe batch."""
    out.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(model.onnx_path, out / MODEL_FILE, weight_type=QuantType.QUInt8)
    size = model.preprocess.input_size
    probe = np.random.default_rng(0).standard_normal((8, 3, size, size)).astype(np.float32)
    full, quantised = _run(model.onnx_path, probe), _run(out / MODEL_FILE, probe)
    card = {
        **model.card,
        "description": f"{model.card.get('description', model.name)} (int8, dynamic quantisation)",
        "quantisation": {
            "method": "onnxruntime.quantization.quantize_dynamic, QUInt8 weights",
            "source": model.name,
            "probe_max_abs_diff": float(np.abs(full - quantised).max()),
            "probe_top1_agreement": float((full.argmax(1) == quantised.argmax(1)).mean()),
        },
        "onnx_bytes": (out / MODEL_FILE).stat().st_size,
    }
    for stale in ("onnx_sha256", "onnx_parity_max_abs_diff"):  # they describe the float model
        card.pop(stale, None)
    log.info("quantised %s to %s (%d bytes)", model.path, out, card["onnx_bytes"])
    return ModelDir.write(out, model.labels, model.preprocess, card)
