"""Small generated ImageFolder trees: classes that differ by colour and shape."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

CLASSES = {
    "red_circle": (220, 40, 40),
    "green_square": (40, 200, 60),
    "blue_triangle": (40, 60, 220),
}


def draw(kind: str, rng: random.Random, side: int) -> Image.Image:
    background = tuple(rng.randint(90, 170) for _ in range(3))
    image = Image.new("RGB", (side + rng.randint(0, 16), side), background)
    pen = ImageDraw.Draw(image)
    size = rng.randint(side // 3, side // 2)
    x, y = rng.randint(2, image.width - size - 2), rng.randint(2, side - size - 2)
    colour = tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in CLASSES[kind])
    if kind == "red_circle":
        pen.ellipse((x, y, x + size, y + size), fill=colour)
    elif kind == "green_square":
        pen.rectangle((x, y, x + size, y + size), fill=colour)
    else:
        pen.polygon([(x, y + size), (x + size, y + size), (x + size // 2, y)], fill=colour)
    return image


def make_imagefolder(
    root: Path, n_train: int = 24, n_val: int = 12, side: int = 48, seed: int = 0
) -> Path:
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for kind in CLASSES:
            folder = root / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                draw(kind, rng, side).save(folder / f"{kind}_{i:03d}.jpg", quality=92)
    return root
