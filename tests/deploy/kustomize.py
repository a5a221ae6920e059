"""Render kennel's kustomize overlays in pure Python, for the offline manifest tests.

No kustomize binary can be installed from the project's registries (Debian bookworm's kubectl is
1.20, whose kustomize is years old), so this renders the subset deploy/k8s uses, the way
kustomize does: `resources` (files and directories), `namespace`, `images` and `patches` (paths
to strategic-merge patches). Strategic merge: maps merge key by key; lists of built-in kinds
merge by their Kubernetes patch merge key (containers and env by name, volumeMounts by
mountPath, ...); any other list, and every list in a custom resource (KEDA's), is replaced.
Anything else in a kustomization is refused rather than ignored.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]
SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
# Patch merge keys of the Kubernetes types kennel's manifests use (from the API's Go types).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
}
PORT_KEYS = ("containerPort", "port")  # container ports, service ports


class KustomizeError(ValueError):
    pass


def render(directory: Path) -> list[Manifest]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{directory}: unsupported fields {sorted(unknown)}")
    objects: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        objects += render(path) if path.is_dir() else load(path)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{directory}: only `patches: - path:` is supported")
        for change in load(directory / patch["path"]):
            apply_patch(objects, change)
    for image in kustomization.get("images", []):
        set_image(objects, image)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] != "Namespace":
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def load(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def is_custom(obj: Manifest) -> bool:
    group = str(obj["apiVersion"]).rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def apply_patch(objects: list[Manifest], patch: Manifest) -> None:
    name = patch["metadata"]["name"]
    matches = [o for o in objects if o["kind"] == patch["kind"] and o["metadata"]["name"] == name]
    if len(matches) != 1:
        raise KustomizeError(f"patch for {patch['kind']}/{name} matches {len(matches)} objects")
    (target,) = matches
    merged = merge(target, patch, by_key=not is_custom(target))
    target.clear()
    target.update(merged)


def merge(base: Any, patch: Any, by_key: bool, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value, by_key, key) if key in base else deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and by_key:
        key = merge_key(field, [*base, *patch])
        if key is not None:
            return merge_list(base, patch, key, by_key)
    return deepcopy(patch)


def merge_key(field: str, items: list[Any]) -> str | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    if field in MERGE_KEYS:
        return MERGE_KEYS[field]
    if field == "ports":
        return next((k for k in PORT_KEYS if all(k in item for item in items)), None)
    return None


def merge_list(base: list[Any], patch: list[Any], key: str, by_key: bool) -> list[Any]:
    """The patch's items in its order (merged into the base item of the same key), then the
    base items it does not name: the order kustomize gives."""
    olds = {item.get(key): item for item in base}
    named = {item.get(key) for item in patch}
    merged = [merge(olds[i[key]], i, by_key) if i.get(key) in olds else deepcopy(i) for i in patch]
    return [*merged, *(deepcopy(item) for item in base if item.get(key) not in named)]


def set_image(objects: list[Manifest], image: dict[str, str]) -> None:
    """kustomize's `images`: rewrite every container image named `name`."""
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
            repository, _, tag = container["image"].partition(":")
            if repository != image["name"]:
                continue
            new_tag = image.get("newTag", tag)
            new_image = image.get("newName", repository)
            container["image"] = f"{new_image}:{new_tag}" if new_tag else new_image
