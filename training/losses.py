"""Training losses: cross-entropy with label smoothing, optionally mixed with a teacher's KL."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from training.barlow import BarlowTwinsLoss, second_view
from training.teacher import Teacher

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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


class JointBarlow:
    """`base` + weight * Barlow(projector(f(x)), projector(f(x'))): the seed's joint variant.

    f(x) are the features the classifier received in the training step's own forward pass
    (caught by a hook); x' is a second view of the batch (barlow.second_view), which costs one
    more forward pass of the network per batch.
    """

    def __init__(
        self, base: LossFn, model: nn.Module, projector: nn.Module, lambd: float, weight: float
    ) -> None:
        self.base = base
        self.model = model
        self.projector = projector
        self.barlow = BarlowTwinsLoss(lambd)
        self.weight = weight
        self._features: torch.Tensor | None = None
        classifier = model.get_classifier()  # type: ignore[operator]  # timm's, untyped
        classifier.register_forward_pre_hook(self._catch)

    def _catch(self, module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        self._features = args[0]

    def __call__(
        self, logits: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor
    ) -> torch.Tensor:
        first = self._features
        assert first is not None, "the classifier's input was not caught"
        self.model(second_view(inputs))
        second = self._features
        assert second is not None
        term: torch.Tensor = self.barlow(
            self.projector(first.flatten(1)), self.projector(second.flatten(1))
        )
        return self.base(logits, targets, inputs) + self.weight * term
