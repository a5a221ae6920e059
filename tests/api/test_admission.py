"""The API's side of admission, in-process against a real redis-server: a queued job's
position and eta_s, Idempotency-Key, and a bound that stores nothing beyond it."""

from __future__ import annotations

import redis

from jobs import protocol
from jobs.contract import JobStatus
from jobs.protocol import WorkerProtocol
from tests.api.conftest import MODEL, caller
from tests.conftest import fake_throughput, photo

DOG = photo("grad_dog_cat.jfif").data
GRAYSCALE = photo("gcompris_panda.webp").data


def post(redis_url: str, data: bytes = DOG, key: str | None = None, **queue: int) -> dict:
    headers = {} if key is None else {"Idempotency-Key": key}
    response = caller(redis_url, **queue)(
        "POST", "/jobs", files={"image": ("dog.jpg", data)}, headers=headers
    )
    return {"http": response.status_code, "headers": response.headers, **response.json()}


def test_a_queued_job_has_a_position_and_an_eta_and_an_ended_one_neither(announced: str) -> None:
    first, second = post(announced), post(announced)
    assert (first["http"], first["position"], first["eta_s"]) == (202, 0, None)
    assert (second["position"], second["eta_s"]) == (1, None)  # nothing ended yet: unknown
    with redis.Redis.from_url(announced) as client:
        fake_throughput(client, MODEL, 2)
        read = caller(announced)("GET", f"/jobs/{second['id']}").json()
        assert read["position"] == 1 and 0.9 < read["eta_s"] < 1.1  # 2 jobs at 2/s
        WorkerProtocol(client, max_attempts=3).start(first["id"], "test-worker")
        read = caller(announced)("GET", f"/jobs/{second['id']}").json()
        assert read["position"] == 0
        running = caller(announced)("GET", f"/jobs/{first['id']}")
        stored = client.get(protocol.job_key(first["id"]))
    assert running.content == stored  # a job that is not queued: the stored bytes untouched
    assert running.json()["status"] == JobStatus.RUNNING and "position" not in running.json()


def test_an_idempotency_key_answers_its_job_and_refuses_another_image(announced: str) -> None:
    made = post(announced, key="order-17")
    again = post(announced, key="order-17")
    assert (made["http"], again["http"]) == (202, 200)
    assert again["id"] == made["id"] and again["position"] == 0
    waited = caller(announced)(
        "POST",
        "/jobs",
        files={"image": ("dog.jpg", DOG)},
        headers={"Idempotency-Key": "order-17", "Prefer": "wait=1"},
    )
    assert waited.status_code == 200 and waited.json()["id"] == made["id"]
    assert waited.headers["Preference-Applied"] == "wait=1"
    reused = post(announced, GRAYSCALE, key="order-17")
    assert reused["http"] == 422 and reused["error"]["code"] == "idempotency_key_reused"
    with redis.Redis.from_url(announced) as client:
        assert protocol.queue_length(client) == 1


def test_beyond_the_bytes_bound_nothing_is_stored_and_retry_after_is_given(
    announced: str,
) -> None:
    bound = {"max_queued_bytes": 2 * len(DOG) + 10}
    assert [post(announced, **bound)["http"] for _ in range(2)] == [202, 202]
    with redis.Redis.from_url(announced) as client:
        keys = client.dbsize()
        refused = post(announced, **bound)
        assert client.dbsize() == keys and protocol.queue_length(client) == 2
    assert refused["http"] == 429 and refused["error"]["code"] == "queue_full"
    assert refused["headers"]["Retry-After"] == "10"  # nothing ended recently: the default
