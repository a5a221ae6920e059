"""The real pretrained model answers through real HTTP, a real worker and a real Redis."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import PHOTO_MANIFEST, Photo, photo


def _load_imagenet_labels(http: httpx.Client) -> list[str]:
    models = {m["name"]: m for m in http.get("/models").json()["models"]}
    return list(models["imagenet"]["labels"])


@pytest.mark.parametrize("known", PHOTO_MANIFEST, ids=lambda p: p.path.stem)
def test_known_photos_get_their_imagenet_class(http: httpx.Client, known: Photo) -> None:
    labels = _load_imagenet_labels(http)
    response = http.post(
        "/predict", files={"image": known.data}, data={"model": "imagenet", "top_k": "3"}
    )
    assert response.status_code == 200, response.text
    top = response.json()["predictions"][0]["label"]
    assert top in {labels[i] for i in known.expected}


def test_golden_retriever_puppy_is_a_golden_retriever(http: httpx.Client) -> None:
    response = http.post("/predict", files={"image": photo("grad_dog_cat.jfif").data})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "imagewoof"
    assert body["predictions"][0]["label"] == "golden retriever"
    assert body["predictions"][0]["score"] > 0.5


def test_german_shepherd_scores_low_on_all_ten_breeds(http: httpx.Client) -> None:
    response = http.post(
        "/predict", files={"image": photo("gcompris_dog.webp").data}, data={"top_k": "10"}
    )
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 10
    assert max(p["score"] for p in predictions) < 0.05


def test_get_follows_a_job_from_queued_to_succeeded(http: httpx.Client, dog_jpeg: bytes) -> None:
    submitted = http.post("/jobs", files={"image": dog_jpeg})
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["status"] == "queued"
    assert submitted.headers["location"] == f"/jobs/{job['id']}"
    seen = [job["status"]]
    deadline = time.monotonic() + 30
    while seen[-1] not in ("succeeded", "failed") and time.monotonic() < deadline:
        job = http.get(submitted.headers["location"]).json()
        if job["status"] != seen[-1]:
            seen.append(job["status"])
        time.sleep(0.01)
    assert seen[0] == "queued" and seen[-1] == "succeeded", seen
    assert job["result"]["predictions"][0]["label"] == "golden retriever"
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]


def test_models_lists_both_default_models_with_labels(http: httpx.Client) -> None:
    models = {m["name"]: m for m in http.get("/models").json()["models"]}
    assert len(models["imagenet"]["labels"]) == 1000
    assert models["imagewoof"]["labels"][0] == "Shih-Tzu"
    assert len(models["imagewoof"]["labels"]) == 10


def test_ready_when_a_worker_serves(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert len(ready.json()["workers"]) == 1
