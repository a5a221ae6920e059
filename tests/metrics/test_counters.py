"""Counters move by exactly what a client did, scraped from the API's and a worker's /metrics."""

from __future__ import annotations

import time

import httpx

from stack.system import LocalSystem
from tests.metrics.scrape import scrape, value, wait_for

N_GOOD = 5


def _wait_until_done(http: httpx.Client, job_ids: list[str]) -> int:
    """Poll every job until it ends; return how many GETs that took."""
    gets, pending = 0, set(job_ids)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            gets += 1
            if http.get(f"/jobs/{job_id}").json()["status"] in ("succeeded", "failed"):
                pending.discard(job_id)
        time.sleep(0.05)
    assert not pending, f"jobs never ended: {pending}"
    return gets


def test_api_and_worker_count_what_happened(
    system: LocalSystem,
    http: httpx.Client,
    dog_jpeg: bytes,
    truncated_jpeg: bytes,
    text_file: bytes,
) -> None:
    api, worker = system.api_url, f"http://127.0.0.1:{system.worker_metrics_ports[0]}"
    api_before, worker_before = scrape(api), scrape(worker)

    uploads = [dog_jpeg] * N_GOOD + [truncated_jpeg]
    job_ids = [http.post("/jobs", files={"image": data}).json()["id"] for data in uploads]
    assert http.post("/jobs", files={"image": text_file}).status_code == 415
    gets = _wait_until_done(http, job_ids)

    def api_delta(name: str, **labels: str) -> float:
        return value(scrape(api), name, **labels) - value(api_before, name, **labels)

    assert api_delta("kennel_jobs_submitted_total", source="api") == N_GOOD + 1
    assert api_delta("kennel_jobs_rejected_total", source="api", code="not_an_image") == 1
    http_count = "kennel_http_requests_total"
    assert api_delta(http_count, method="POST", route="/jobs", status="202") == N_GOOD + 1
    assert api_delta(http_count, method="POST", route="/jobs", status="415") == 1
    assert api_delta(http_count, method="GET", route="/jobs/{job_id}", status="200") == gets
    assert ("kennel_queue_depth", frozenset({("queue", "kennel")})) in scrape(api)

    def worker_delta(name: str, **labels: str) -> float:
        return value(scrape(worker), name, **labels) - value(worker_before, name, **labels)

    finished = "kennel_jobs_finished_total"
    wait_for(
        lambda: (
            worker_delta("kennel_job_duration_seconds_count", model="imagewoof", status="failed")
            == 1
        )
    )
    wait_for(
        lambda: (
            worker_delta("kennel_job_duration_seconds_count", model="imagewoof", status="succeeded")
            == N_GOOD
        )
    )
    ok = {"model": "imagewoof", "status": "succeeded", "code": "none"}
    assert worker_delta(finished, **ok) == N_GOOD
    bad = {"model": "imagewoof", "status": "failed", "code": "decode_failed"}
    assert worker_delta(finished, **bad) == 1
    assert worker_delta("kennel_job_queue_wait_seconds_count", model="imagewoof") == N_GOOD + 1
    assert worker_delta("kennel_preprocess_seconds_count", model="imagewoof") == N_GOOD + 1
    # The truncated image never reaches the model: only the good ones are inferred.
    assert worker_delta("kennel_images_inferred_total", model="imagewoof") == N_GOOD
    assert worker_delta("kennel_batch_size_sum", model="imagewoof") == N_GOOD
    batches = worker_delta("kennel_batches_total", model="imagewoof")
    assert 1 <= batches <= N_GOOD
    assert worker_delta("kennel_inference_seconds_count", model="imagewoof") == batches


def test_a_worker_reports_itself_up_with_its_model_load_times(system: LocalSystem) -> None:
    samples = scrape(f"http://127.0.0.1:{system.worker_metrics_ports[0]}")
    assert value(samples, "kennel_worker_up") == 1
    for model in ("imagenet", "imagewoof"):
        assert value(samples, "kennel_model_load_seconds", model=model) > 0
