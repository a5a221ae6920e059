"""deploy/k8s renders, and every object it renders is valid, offline.

Built-in kinds are checked by `kubernetes-validate` (the Kubernetes OpenAPI schemas, strict:
unknown fields are errors); KEDA's ScaledObject by the schema shipped in deploy/k8s/crds (written
by hand from KEDA's documentation). The manifests are also checked against kennel itself: the
queue KEDA watches is the one the workers consume, the probes run code that exists, every
setting is a real one.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from jobs.contract import BATCH_QUEUE_NAME, QUEUE_NAME
from stack.processes import ROOT
from tests.deploy.kustomize import Manifest, render

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"  # the oldest Kubernetes release still in wide support
OVERLAYS = ("cpu", "gpu")
SCALED_OBJECT = yaml.safe_load((K8S / "crds" / "keda-scaledobject.schema.yaml").read_text())
REDIS_TRIGGER = yaml.safe_load((K8S / "crds" / "keda-redis-trigger.schema.yaml").read_text())


def validate(obj: Manifest) -> None:
    """Raise if `obj` is not a valid object of its kind."""
    if obj["apiVersion"].startswith("keda.sh/"):
        jsonschema.validate(obj, SCALED_OBJECT)
        for trigger in obj["spec"]["triggers"]:
            if trigger["type"] == "redis":
                jsonschema.validate(trigger["metadata"], REDIS_TRIGGER)
        return
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def one(objects: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def container(objects: list[Manifest], deployment: str) -> dict[str, Any]:
    (only,) = one(objects, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env(objects: list[Manifest], deployment: str) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(objects, deployment).get("env", [])}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Manifest]]:
    return request.param, render(K8S / "overlays" / request.param)


def test_every_rendered_object_is_valid(overlay: tuple[str, list[Manifest]]) -> None:
    _, objects = overlay
    kinds = sorted(o["kind"] for o in objects)
    expected = ["ConfigMap", "Deployment", "Deployment", "Deployment", "Namespace", "ScaledObject"]
    assert kinds == sorted([*expected, "Service", "Service", "StatefulSet"])
    for obj in objects:
        validate(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "kennel", obj["metadata"]["name"]


def test_keda_scales_the_workers_on_the_queue_they_consume(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, objects = overlay
    scaled = one(objects, "ScaledObject", "worker")["spec"]
    assert one(objects, "Deployment", scaled["scaleTargetRef"]["name"])
    assert "replicas" not in one(objects, "Deployment", "worker")["spec"]  # KEDA owns it
    assert scaled["minReplicaCount"] == 0
    triggers = scaled["triggers"]
    assert [t["metadata"]["listName"] for t in triggers] == [QUEUE_NAME, BATCH_QUEUE_NAME]
    service = one(objects, "Service", "redis")["metadata"]
    for trigger in triggers:
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["activationListLength"] == "0"  # the first job wakes it
        host = trigger["metadata"]["address"].split(":")[0]
        assert host == f"{service['name']}.{service['namespace']}.svc.cluster.local"


def test_probes_run_what_kennel_serves(overlay: tuple[str, list[Manifest]]) -> None:
    _, objects = overlay
    api = container(objects, "api")
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/healthz"  # not /readyz: see api.yaml
    worker = container(objects, "worker")
    for probe in ("startupProbe", "livenessProbe"):
        *_, module = worker[probe]["exec"]["command"]
        assert importlib.util.find_spec(module) is not None, module


def test_every_setting_is_one_kennel_reads(overlay: tuple[str, list[Manifest]]) -> None:
    _, objects = overlay
    documented = {
        line.lstrip("# ").split("=")[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "KENNEL_" in line and "=" in line
    }
    names = set(one(objects, "ConfigMap", "kennel")["data"])
    for deployment in ("api", "worker", "webhooks"):
        names |= set(env(objects, deployment))
    assert names <= documented, names - documented


def test_only_the_gpu_overlay_asks_for_a_gpu(overlay: tuple[str, list[Manifest]]) -> None:
    name, objects = overlay
    worker = container(objects, "worker")
    limits = worker["resources"].get("limits", {})
    if name == "gpu":
        assert limits["nvidia.com/gpu"] == 1
        assert env(objects, "worker")["KENNEL_WORKER_DEVICE"] == "cuda"
        assert worker["image"].endswith("/worker-gpu:0.1.0")
    else:
        assert "nvidia.com/gpu" not in limits
        assert env(objects, "worker")["KENNEL_WORKER_DEVICE"] == "cpu"
        assert worker["image"].endswith("/worker:0.1.0")


@pytest.fixture
def rendered_cpu() -> list[Manifest]:
    return render(K8S / "overlays" / "cpu")


def broken(objects: list[Manifest], kind: str, name: str, path: str, value: Any) -> Manifest:
    """A copy of one object with the field at dotted `path` set to `value`."""
    obj = copy.deepcopy(one(objects, kind, name))
    *parents, leaf = path.split(".")
    node: Any = obj
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[leaf] = value
    return obj


@pytest.mark.parametrize(
    ("kind", "name", "path", "value"),
    [
        ("ScaledObject", "worker", "spec.minReplicaCount", -1),
        ("ScaledObject", "worker", "spec.triggers.0.metadata.listLength", 8),  # not a string
        ("ScaledObject", "worker", "spec.triggers.0.metadata.listname", "kennel"),  # misspelt
        ("ScaledObject", "worker", "spec.scaleTargetRef", {"kind": "Deployment"}),  # no name
        ("ScaledObject", "worker", "spec.maxReplicas", 3),  # the HPA's field, not KEDA's
        ("Deployment", "api", "spec.template.spec.containers.0.readinesProbe", {}),  # typo
        ("Deployment", "worker", "spec.replicas", "two"),
        ("Service", "api", "spec.ports.0.port", "http"),
    ],
)
def test_a_broken_object_is_refused(
    rendered_cpu: list[Manifest], kind: str, name: str, path: str, value: Any
) -> None:
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate(broken(rendered_cpu, kind, name, path, value))


def test_the_shipped_schemas_are_valid_schemas() -> None:
    for schema in (SCALED_OBJECT, REDIS_TRIGGER):
        jsonschema.Draft7Validator.check_schema(schema)


def test_every_manifest_file_is_used() -> None:
    used: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        entries = [*spec.get("resources", []), *(p["path"] for p in spec.get("patches", []))]
        used |= {(kustomization.parent / entry).resolve() for entry in entries}
    manifests = {p.resolve() for p in K8S.rglob("*.yaml") if p.parent.name != "crds"}
    manifests -= {p.resolve() for p in K8S.rglob("kustomization.yaml")}
    assert manifests <= used, manifests - used
