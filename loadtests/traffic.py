"""The images a load test sends: the test photos re-encoded at the sizes real clients send.

- `web`: a small web image, 320 px on its long side;
- `telegram`: what Telegram hands a bot for a photo, 1280 px on its long side;
- `phone`: a 12-megapixel phone photo, 4000 x 3000.

They are made once from `tests/data/photos` into a cache directory (JPEG, quality 90). The
phone photos are upscaled from smaller originals, so they decode like real 12 MP JPEGs but
compress better than real camera noise would.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from stack.processes import ROOT

PHOTOS = ROOT / "tests" / "data" / "photos"
DEFAULT_CACHE = ROOT / "var" / "loadtest-images"
SIZES = {"web": (320, 320), "telegram": (1280, 1280), "phone": (4000, 3000)}
# Share of each size in the traffic: mostly messenger photos, some web images, a few originals.
MIX = {"web": 0.35, "telegram": 0.5, "phone": 0.15}


@dataclass(frozen=True)
class TrafficImage:
    name: str
    size_class: str
    data: bytes


def _resized(photo: Path, size_class: str) -> Image.Image:
    image = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    width, height = SIZES[size_class]
    if size_class == "phone":  # exactly 12 MP, in the photo's orientation
        box = (width, height) if image.width >= image.height else (height, width)
        return ImageOps.fit(image, box, Image.Resampling.BICUBIC)
    scale = max(width, height) / max(image.size)
    return image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC
    )


def build(cache: Path = DEFAULT_CACHE) -> list[TrafficImage]:
    """Every photo at every size, encoded once into `cache` and read from it afterwards."""
    images = []
    for photo in sorted(
        p for p in PHOTOS.iterdir() if p.suffix.lower() != ".tsv" and p.suffix != ".md"
    ):
        for size_class in SIZES:
            path = cache / size_class / f"{photo.stem}.jpg"
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                buffer = io.BytesIO()
                _resized(photo, size_class).save(buffer, "JPEG", quality=90)
                path.write_bytes(buffer.getvalue())
            images.append(TrafficImage(path.name, size_class, path.read_bytes()))
    return images


class TrafficMix:
    """Draws images in the proportions of MIX."""

    def __init__(self, images: list[TrafficImage], seed: int | None = None) -> None:
        self._by_class = {c: [i for i in images if i.size_class == c] for c in SIZES}
        self._random = random.Random(seed)

    def draw(self) -> TrafficImage:
        size_class = self._random.choices(list(MIX), weights=list(MIX.values()))[0]
        return self._random.choice(self._by_class[size_class])

    def sample(self, n: int) -> list[TrafficImage]:
        return [self.draw() for _ in range(n)]
