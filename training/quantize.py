"""Int8 copies of a model directory with ONNX Runtime's quantiser.

Static (QDQ) quantisation, calibrated on real images run through the SERVING preprocessing,
is the default: per-channel int8 weights and uint8 activations, which run as QLinearConv.
Without calibration images it falls back to dynamic quantisation (int8 weights only), which
on convolutional nets is small but can be slower than float (ConvInteger); the card says which.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from jobs.images import ImageLimits
from training.imagefolder import image_files
from worker.modeldir import MODEL_FILE, ModelDir, PreprocessConfig
from worker.preprocess import preprocess

log = logging.getLogger(__name__)
LIMITS = ImageLimits(max_bytes=50 * 1024 * 1024, max_pixels=100_000_000)


class ServedImages(CalibrationDataReader):  # type: ignore[misc]  # untyped base
    """One preprocessed image per calibration step, as a worker would feed it."""

    def __init__(self, files: list[Path], config: PreprocessConfig) -> None:
        self._files = iter(files)
        self._config = config

    def get_next(self) -> dict[str, np.ndarray] | None:
        path = next(self._files, None)
        if path is None:
            return None
        return {"input": served(path, self._config)[None]}


def served(path: Path, config: PreprocessConfig) -> np.ndarray:
    return preprocess(path.read_bytes(), config, LIMITS)


def calibration_files(folder: Path, limit: int = 64) -> list[Path]:
    """Up to `limit` images spread evenly over the (sorted) tree, so every class is seen."""
    files = image_files(folder) if folder.is_dir() else []
    if len(files) <= limit:
        return files
    return [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]


def _run(path: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": batch})
    return np.asarray(out)


def _quantise(model: ModelDir, target: Path, calibration: list[Path]) -> str:
    if not calibration:
        quantize_dynamic(model.onnx_path, target, weight_type=QuantType.QUInt8)
        return "dynamic: onnxruntime quantize_dynamic, QUInt8 weights"
    prepared = target.with_name("model.prepared.onnx")
    quant_pre_process(str(model.onnx_path), str(prepared))
    try:
        quantize_static(
            prepared,
            target,
            ServedImages(calibration, model.preprocess),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    finally:
        prepared.unlink(missing_ok=True)
    return f"static QDQ: per-channel QInt8 weights, QUInt8 activations, {len(calibration)} images"


def quantize_model_dir(
    model: ModelDir, out: Path, calibration: list[Path] | None = None
) -> ModelDir:
    """Quantise `model` into `out`; the card records the method and how far it moved."""
    out.mkdir(parents=True, exist_ok=True)
    method = _quantise(model, out / MODEL_FILE, calibration or [])
    size = model.preprocess.input_size
    if calibration:
        probe = np.stack([served(p, model.preprocess) for p in calibration[:16]])
    else:
        probe = np.random.default_rng(0).standard_normal((8, 3, size, size)).astype(np.float32)
    full, quantised = _run(model.onnx_path, probe), _run(out / MODEL_FILE, probe)
    card = {
        **model.card,
        "description": f"{model.card.get('description', model.name)} (int8)",
        "quantisation": {
            "method": method,
            "source": model.name,
            "calibration": str(calibration[0].parents[1]) if calibration else None,
            "probe_images": len(probe),
            "probe_max_abs_diff": float(np.abs(full - quantised).max()),
            "probe_top1_agreement": float((full.argmax(1) == quantised.argmax(1)).mean()),
        },
        "onnx_bytes": (out / MODEL_FILE).stat().st_size,
    }
    for stale in ("onnx_sha256", "onnx_parity_max_abs_diff"):  # they describe the float model
        card.pop(stale, None)
    log.info("quantised %s to %s (%s, %d bytes)", model.path, out, method, card["onnx_bytes"])
    return ModelDir.write(out, model.labels, model.preprocess, card)
