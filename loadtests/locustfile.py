"""Locust users of kennel's API (`make loadtest`; the benchmark runs JobUser).

- `JobUser` submits with POST /jobs, then long-polls GET /jobs/{id}?wait=S until the job ends
  (the API holds the request until then, so nothing polls). Each job is reported once, as
  "job (submit+poll)", with its end-to-end time; a failed job, or one that does not end within
  KENNEL_LOADTEST_JOB_TIMEOUT_S, is a failure.
- `PredictUser` calls POST /predict, which waits for the answer.

Both are FastHttpUsers (geventhttpclient): on a machine that also runs kennel, the load
generator should take as little CPU as it can. It sends no multipart of its own, so each
image's form body is encoded once and reused.

Images follow loadtests.traffic.MIX (web, Telegram and 12 MP phone photos). Settings come from
the environment: KENNEL_LOADTEST_MODEL (default imagewoof), KENNEL_LOADTEST_IMAGES (cache dir),
KENNEL_LOADTEST_WAIT_S (30, the longest single wait asked for), KENNEL_LOADTEST_JOB_TIMEOUT_S
(120).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

from loadtests import JOB_NAME
from loadtests.traffic import DEFAULT_CACHE, TrafficImage, TrafficMix, build

MODEL = os.environ.get("KENNEL_LOADTEST_MODEL", "imagewoof")
WAIT_S = float(os.environ.get("KENNEL_LOADTEST_WAIT_S", "30"))
JOB_TIMEOUT_S = float(os.environ.get("KENNEL_LOADTEST_JOB_TIMEOUT_S", "120"))
BOUNDARY = "kennel-loadtest-boundary"
_images: dict[str, Any] = {}
_bodies: dict[tuple[str, str], bytes] = {}


class JobFailed(Exception):
    pass


@events.init.add_listener  # type: ignore[untyped-decorator]
def make_images(**_: Any) -> None:
    """Encode the traffic images once, before any user starts."""
    _images["all"] = build(Path(os.environ.get("KENNEL_LOADTEST_IMAGES", str(DEFAULT_CACHE))))


def form_body(image: TrafficImage, model: str) -> bytes:
    """multipart/form-data with the image and the model, as a browser or curl -F sends it."""
    key = (f"{image.size_class}/{image.name}", model)
    if key not in _bodies:
        _bodies[key] = b"".join(
            [
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\n'
                f"{model}\r\n".encode(),
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; '
                f'filename="{image.name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode(),
                image.data,
                f"\r\n--{BOUNDARY}--\r\n".encode(),
            ]
        )
    return _bodies[key]


class KennelUser(FastHttpUser):
    abstract = True
    wait_time = between(0, 0.1)

    def on_start(self) -> None:
        self.mix = TrafficMix(_images["all"])

    def upload(self) -> dict[str, Any]:
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        return {"data": form_body(self.mix.draw(), MODEL), "headers": headers}


class JobUser(KennelUser):
    @task
    def job(self) -> None:
        started = time.perf_counter()
        try:
            self._submit_and_poll()
        except Exception as exc:  # every failure of the job counts against it, once
            self._report(started, exc)
        else:
            self._report(started, None)

    def _submit_and_poll(self) -> None:
        with self.client.post("/jobs", name="/jobs", catch_response=True, **self.upload()) as sent:
            if sent.status_code != 202:
                sent.failure(f"submit answered {sent.status_code}")
        if sent.status_code != 202:
            raise JobFailed(f"submit answered {sent.status_code}: {(sent.text or '')[:200]}")
        job_id = sent.json()["id"]
        deadline = time.perf_counter() + JOB_TIMEOUT_S
        while (remaining := deadline - time.perf_counter()) > 0:
            wait = max(1, min(WAIT_S, int(remaining)))
            response = self.client.get(f"/jobs/{job_id}?wait={wait}", name="/jobs/{job_id}")
            status = response.json()["status"] if response.status_code == 200 else "unknown"
            if status == "succeeded":
                return
            if status in ("failed", "unknown"):
                raise JobFailed(f"job {status}: {(response.text or '')[:200]}")
        raise JobFailed(f"job did not end within {JOB_TIMEOUT_S:.0f}s")

    def _report(self, started: float, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="JOB",
            name=JOB_NAME,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
            context={},
        )


class PredictUser(KennelUser):
    @task
    def predict(self) -> None:
        with self.client.post(
            "/predict", name="/predict", catch_response=True, **self.upload()
        ) as r:
            if r.status_code != 200:
                r.failure(f"predict answered {r.status_code}: {(r.text or '')[:200]}")
