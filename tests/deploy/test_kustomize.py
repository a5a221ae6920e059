"""The pure-Python kustomize renderer (tests/deploy/kustomize.py) merges as kustomize does.

Its output for both of kennel's overlays was also compared with `kubectl kustomize` (kustomize
v5.5.0) once, by hand, and was identical; these tests pin the rules that made it so.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.kustomize import KustomizeError, merge, render

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "worker", "labels": {"a": "1"}},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "worker",
                        "image": "kennel-worker",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "ports": [{"containerPort": 9100, "name": "metrics"}],
                    },
                    {"name": "sidecar", "image": "busybox:1"},
                ],
                "tolerations": [{"key": "x", "operator": "Exists"}],
            }
        }
    },
}


def write(directory: Path, name: str, *docs: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(yaml.safe_dump_all(docs))


def test_named_lists_merge_by_key_and_new_items_follow_the_patch_order() -> None:
    patch = {"containers": [{"name": "worker", "env": [{"name": "C", "value": "3"}]}]}
    merged = merge(DEPLOYMENT["spec"]["template"]["spec"], patch, by_key=True)  # type: ignore[index]
    worker, sidecar = merged["containers"]
    assert sidecar == {"name": "sidecar", "image": "busybox:1"}
    assert worker["image"] == "kennel-worker"
    assert [e["name"] for e in worker["env"]] == ["C", "A", "B"]
    assert worker["ports"] == [{"containerPort": 9100, "name": "metrics"}]


def test_a_patch_value_replaces_and_unkeyed_lists_are_replaced() -> None:
    patch = {"tolerations": [{"key": "y", "operator": "Exists"}], "nodeSelector": {"gpu": "1"}}
    merged = merge(DEPLOYMENT["spec"]["template"]["spec"], patch, by_key=True)  # type: ignore[index]
    assert merged["tolerations"] == [{"key": "y", "operator": "Exists"}]
    assert merged["nodeSelector"] == {"gpu": "1"}


def test_lists_in_a_custom_resource_are_replaced_whole() -> None:
    base = {"triggers": [{"name": "a", "type": "redis"}, {"name": "b", "type": "cpu"}]}
    patch = {"triggers": [{"name": "a", "type": "kafka"}]}
    assert merge(base, patch, by_key=False) == patch


def test_an_overlay_patches_sets_images_and_the_namespace(tmp_path: Path) -> None:
    base, overlay = tmp_path / "base", tmp_path / "overlay"
    write(
        base,
        "worker.yaml",
        DEPLOYMENT,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}},
    )
    write(base, "kustomization.yaml", {"resources": ["worker.yaml"], "namespace": "ns"})
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "worker", "labels": {"b": "2"}},
    }
    write(overlay, "patch.yaml", patch)
    images = [{"name": "kennel-worker", "newName": "reg/worker", "newTag": "1.0"}]
    spec = {"resources": ["../base"], "patches": [{"path": "patch.yaml"}], "images": images}
    write(overlay, "kustomization.yaml", spec)
    deployment, namespace = render(overlay)
    assert deployment["metadata"] == {
        "name": "worker",
        "labels": {"a": "1", "b": "2"},
        "namespace": "ns",
    }
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["reg/worker:1.0", "busybox:1"]
    assert "namespace" not in namespace["metadata"]


@pytest.mark.parametrize(
    "spec",
    [
        {"resources": ["worker.yaml"], "commonLabels": {"a": "b"}},  # unsupported: refused
        {"resources": ["worker.yaml"], "patches": [{"path": "worker.yaml", "target": {}}]},
        {"resources": ["worker.yaml"], "patches": [{"path": "other.yaml"}]},  # matches nothing
    ],
)
def test_what_it_cannot_render_is_refused(tmp_path: Path, spec: dict[str, object]) -> None:
    write(tmp_path, "worker.yaml", DEPLOYMENT)
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "other"}}
    write(tmp_path, "other.yaml", other)
    write(tmp_path, "kustomization.yaml", spec)
    with pytest.raises(KustomizeError):
        render(tmp_path)
