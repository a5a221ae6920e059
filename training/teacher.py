"""A distillation teacher: a served model directory (ONNX Runtime) or a training checkpoint.

Both take the student's normalised batch, re-normalise and resize it to the teacher's own
preprocessing, and return logits over the student's classes, in the student's order. A model
directory outputs probabilities; their logarithms serve as logits (softmax is shift-invariant,
so a subset of classes that is not renormalised is fine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.labelmap import folder_to_label
from worker.modeldir import MODEL_FILE, ModelDir


class Teacher(Protocol):
    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised as the student's input -> (N, n_student_classes)."""
        ...


class Renormalise:
    """Student-normalised input -> teacher-normalised input at the teacher's size."""

    def __init__(
        self,
        student: tuple[tuple[float, ...], tuple[float, ...]],
        teacher: tuple[tuple[float, ...], tuple[float, ...]],
        size: int,
    ) -> None:
        self.student_mean, self.student_std = (torch.tensor(v).view(1, 3, 1, 1) for v in student)
        self.teacher_mean, self.teacher_std = (torch.tensor(v).view(1, 3, 1, 1) for v in teacher)
        self.size = size

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        device = batch.device
        raw = batch * self.student_std.to(device) + self.student_mean.to(device)
        if raw.shape[-1] != self.size or raw.shape[-2] != self.size:
            raw = F.interpolate(raw, size=(self.size, self.size), mode="bilinear", antialias=True)
        return (raw - self.teacher_mean.to(device)) / self.teacher_std.to(device)


class OnnxTeacher:
    def __init__(self, model: ModelDir, classes: list[str], renormalise: Renormalise) -> None:
        import onnxruntime as ort

        self._session = ort.InferenceSession(
            str(model.onnx_path), providers=["CPUExecutionProvider"]
        )
        self._index = folder_to_label(classes, model.labels)
        self._renormalise = renormalise

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(self._renormalise(batch.float()).cpu().numpy(), np.float32)
        (probabilities,) = self._session.run(None, {"input": x})
        chosen = torch.from_numpy(np.asarray(probabilities)[:, self._index]).to(batch.device)
        return chosen.clamp_min(1e-8).log()


class TorchTeacher:
    def __init__(self, net: nn.Module, index: list[int], renormalise: Renormalise) -> None:
        self._net = net.eval()
        self._index = index
        self._renormalise = renormalise

    @torch.no_grad()
    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self._net(self._renormalise(batch.float()))
        return logits[:, self._index]


def load_teacher(
    path: Path, classes: list[str], mean: tuple[float, ...], std: tuple[float, ...], device: str
) -> Teacher:
    """`path` is a model directory, a run directory or a checkpoint file (.pt)."""
    if (path / MODEL_FILE).is_file():
        model = ModelDir.load(path)
        pre = model.preprocess
        return OnnxTeacher(
            model, classes, Renormalise((mean, std), (pre.mean, pre.std), pre.input_size)
        )
    from training.checkpoint import load_network

    net, config, teacher_classes = load_network(path)
    assert config.mean is not None and config.std is not None and config.input_size is not None
    renormalise = Renormalise((mean, std), (config.mean, config.std), config.input_size)
    return TorchTeacher(net.to(device), folder_to_label(classes, teacher_classes), renormalise)
