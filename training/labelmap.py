"""Which model output each class folder is: by name, or by ImageNet WordNet id (Imagewoof).

Imagewoof's folders are WordNet ids (n02086240, ...); the `imagewoof` model's labels are the
readable names of the same ImageNet classes, in the same order (training/pretrained.py).
"""

from __future__ import annotations

from functools import cache

from training.errors import LabelMismatch


@cache
def wnid_names() -> dict[str, str]:
    """The ten Imagewoof WordNet ids to the readable labels of the `imagewoof` model."""
    from timm.data.imagenet_info import ImageNetInfo

    from training.pretrained import IMAGEWOOF

    info = ImageNetInfo()
    return {info.index_to_label_name(index): name for index, name in IMAGEWOOF.items()}


def readable(folder: str) -> str:
    return wnid_names().get(folder, folder)


def folder_to_label(folders: list[str], labels: list[str]) -> list[int]:
    """For each folder, the index of its label; LabelMismatch names every folder left over."""
    index = {label: i for i, label in enumerate(labels)}
    found: list[int] = []
    missing: list[str] = []
    for folder in folders:
        label = folder if folder in index else readable(folder)
        if label in index:
            found.append(index[label])
        else:
            missing.append(folder)
    if missing:
        shown = ", ".join(labels[:12]) + (", ..." if len(labels) > 12 else "")
        raise LabelMismatch(
            f"No model label for folder(s) {', '.join(missing)}. Folder names must equal a label "
            f"(or be an Imagewoof WordNet id); the model's labels are: {shown}"
        )
    if len(set(found)) != len(found):
        raise LabelMismatch(f"Two folders map to the same label: {folders} -> {found}")
    return found
