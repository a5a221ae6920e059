"""Training losses: cross-entropy with label smoothing, optionally mixed with a teacher's KL."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.teacher import Teacher


class Supervised:
    def __init__(self, label_smoothing: float) -> None:
        self.label_smoothing = label_smoothing

    def __call__(
        self, logits: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor
    ) -> torch.Tensor:
        return F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)


class Distillation:
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(labels) (Hinton et al., 2015)."""

    def __init__(
        self, teacher: Teacher, temperature: float, alpha: float, label_smoothing: float
    ) -> None:
        self.teacher = teacher
        self.temperature = temperature
        self.alpha = alpha
        self.supervised = Supervised(label_smoothing)

    def __call__(
        self, logits: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor
    ) -> torch.Tensor:
        t = self.temperature
        with torch.no_grad():
            teacher_logits = self.teacher.logits(inputs).float()
        kl = F.kl_div(
            F.log_softmax(logits.float() / t, dim=-1),
            F.log_softmax(teacher_logits / t, dim=-1),
            log_target=True,
            reduction="batchmean",
        )
        return self.alpha * t * t * kl + (1 - self.alpha) * self.supervised(logits, targets, inputs)
