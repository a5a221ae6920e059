"""ONNX Runtime sessions behind a small Classifier protocol."""

from __future__ import annotations

import logging
import time
from typing import Literal, Protocol

import numpy as np
import onnxruntime as ort

from jobs.contract import Prediction
from worker.errors import ModelLoadError
from worker.modeldir import ModelDir

log = logging.getLogger(__name__)

Device = Literal["cpu", "cuda"]


class Classifier(Protocol):
    name: str
    labels: list[str]

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 in, (N, len(labels)) probabilities out."""
        ...


def providers_for(device: Device) -> list[str]:
    available = ort.get_available_providers()
    if device == "cuda":
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        log.warning(
            "KENNEL_WORKER_DEVICE=cuda but onnxruntime offers only %s; falling back to CPU "
            "(install onnxruntime-gpu on a machine with a CUDA GPU)",
            ", ".join(available),
        )
    return ["CPUExecutionProvider"]


class OnnxClassifier:
    def __init__(self, model: ModelDir, session: ort.InferenceSession, load_s: float) -> None:
        self.name = model.name
        self.labels = model.labels
        self.model = model
        self.load_s = load_s
        self._session = session
        self._input = session.get_inputs()[0].name

    @classmethod
    def load(
        cls,
        model: ModelDir,
        device: Device = "cpu",
        intra_op_threads: int = 0,
        spinning: bool = True,  # ORT's default; the worker passes its setting
    ) -> OnnxClassifier:
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        # Spinning keeps ORT's idle threads busy-waiting for the next op: faster alone, but it
        # takes cores the worker's preprocessing needs (KENNEL_WORKER_ORT_SPINNING).
        options.add_session_config_entry("session.intra_op.allow_spinning", str(int(spinning)))
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        started = time.perf_counter()
        try:
            session = ort.InferenceSession(
                str(model.onnx_path), sess_options=options, providers=providers_for(device)
            )
        except Exception as exc:
            raise ModelLoadError(
                f"Cannot load model {model.name} from {model.onnx_path}: {exc}"
            ) from exc
        classifier = cls(model, session, time.perf_counter() - started)
        classifier._check_labels()
        log.info(
            "loaded model %s (%d labels) on %s in %.2fs",
            model.name,
            len(model.labels),
            session.get_providers()[0],
            classifier.load_s,
        )
        return classifier

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        (probabilities,) = self._session.run(None, {self._input: batch})
        return np.asarray(probabilities)

    def _check_labels(self) -> None:
        size = self.model.preprocess.input_size
        probe = np.zeros((1, 3, size, size), dtype=np.float32)
        n_outputs = self.predict_batch(probe).shape[1]
        if n_outputs != len(self.labels):
            raise ModelLoadError(
                f"Model {self.name} has {n_outputs} outputs but {len(self.labels)} labels"
            )


def top_k(probabilities: np.ndarray, labels: list[str], k: int) -> list[Prediction]:
    order = np.argsort(-probabilities, kind="stable")[: max(1, min(k, len(labels)))]
    return [Prediction(label=labels[i], score=float(probabilities[i])) for i in order]
