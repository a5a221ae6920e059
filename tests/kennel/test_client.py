"""The Python client and `python -m kennel` against a real running kennel."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jobs.contract import JobStatus, Priority
from kennel.client import AsyncClient, Client
from kennel.errors import BadInput, JobFailed, JobNotFound
from stack.system import LocalSystem
from tests.conftest import photo

pytestmark = pytest.mark.system
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kennel(system: LocalSystem) -> Iterator[Client]:
    with Client(system.api_url, poll_s=0.05) as client:
        yield client


def test_classify_a_photo(kennel: Client) -> None:
    job = kennel.classify(photo("grad_dog_cat.jfif").path, top_k=2)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result is not None
    assert len(job.result.predictions) == 2
    assert job.result.predictions[0].label == "golden retriever"


def test_submit_get_and_wait(kennel: Client, dog_jpeg: bytes) -> None:
    job = kennel.submit(dog_jpeg, model="imagenet", top_k=1)
    assert job.status in (JobStatus.QUEUED, JobStatus.SUCCEEDED)
    assert kennel.get(job.id).id == job.id
    ended = kennel.wait(job.id, timeout_s=60)
    assert ended.status == JobStatus.SUCCEEDED
    assert ended.model == "imagenet"


def test_a_retried_submission_with_its_idempotency_key_makes_one_job(
    kennel: Client, dog_jpeg: bytes
) -> None:
    first = kennel.submit(dog_jpeg, priority=Priority.INTERACTIVE, idempotency_key="retry-1")
    again = kennel.submit(dog_jpeg, priority=Priority.INTERACTIVE, idempotency_key="retry-1")
    assert again.id == first.id and first.priority == Priority.INTERACTIVE
    assert kennel.submit(dog_jpeg).priority == Priority.BATCH  # POST /jobs's default


def test_errors_carry_the_api_code(kennel: Client, text_file: bytes) -> None:
    with pytest.raises(BadInput) as refused:
        kennel.submit(text_file)
    assert (refused.value.code, refused.value.status) == ("not_an_image", 415)
    with pytest.raises(BadInput) as unknown:
        kennel.submit(photo("grad_dog_cat.jfif").data, model="no-such-model")
    assert unknown.value.code == "unknown_model"
    with pytest.raises(JobNotFound) as missing:
        kennel.get("no-such-job")
    assert missing.value.code == "job_not_found"
    with pytest.raises(JobNotFound):  # an unknown job cannot be canceled
        kennel.cancel("no-such-job")


def test_a_job_that_fails_raises_job_failed(kennel: Client, truncated_jpeg: bytes) -> None:
    with pytest.raises(JobFailed) as failed:
        kennel.classify(truncated_jpeg)
    assert failed.value.code == "decode_failed"
    assert failed.value.job.status == JobStatus.FAILED


def test_the_async_client(system: LocalSystem) -> None:
    async def both() -> list[str]:
        async with AsyncClient(system.api_url, poll_s=0.05) as kennel:
            jobs = await asyncio.gather(
                kennel.classify(photo("grad_dog_cat.jfif").path),
                kennel.classify(photo("gcompris_panda.webp").data, model="imagenet"),
            )
        return [j.result.predictions[0].label for j in jobs if j.result]

    labels = asyncio.run(both())
    assert labels[0] == "golden retriever"
    assert "panda" in labels[1]


class EventStream(BaseHTTPRequestHandler):
    """A real HTTP server speaking text/event-stream, as GET /jobs/{id}/events will."""

    def do_GET(self) -> None:
        if self.path != "/jobs/abc/events":
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"code": "job_not_found", "message": "no job"}}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for chunk in (
            b'event: queued\ndata: {"position": 0}\n\n',
            b": keep-alive\n\nevent: running\ndata: {}\n\n",
            b'event: succeeded\ndata: {"id": "abc"}\n\n',
        ):
            self.wfile.write(chunk)
            self.wfile.flush()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def event_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EventStream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_events_are_read_from_a_real_event_stream(event_server: str) -> None:
    with Client(event_server) as client:
        events = list(client.events("abc"))
        assert [e.event for e in events] == ["queued", "running", "succeeded"]
        assert events[0].json() == {"position": 0}
        with pytest.raises(JobNotFound):
            list(client.events("other"))


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kennel", "classify", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_the_command_line_prints_a_table(system: LocalSystem, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    dog, panda = photo("grad_dog_cat.jfif").path, photo("gcompris_panda.webp").path
    missing = tmp_path / "missing.jpg"
    done = run_cli(
        str(dog), str(panda), str(notes), str(missing), "--top-k", "2", KENNEL_URL=system.api_url
    )
    assert done.returncode == 1, done.stderr  # one photo was refused
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["photo", "#", "label", "score"]
    assert lines[2].startswith(dog.name) and "golden retriever" in lines[2]
    assert "%" in lines[2]
    assert any(line.startswith(panda.name) for line in lines)
    assert any(line.startswith("notes.txt") and "not_an_image" in line for line in lines)
    assert any(line.startswith("missing.jpg") and "unreadable_file" in line for line in lines)


def test_the_command_line_takes_url_and_model(system: LocalSystem) -> None:
    panda = photo("gcompris_panda.webp").path
    done = run_cli(str(panda), "--model", "imagenet", "--top-k", "1", "--url", system.api_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "panda" in done.stdout.splitlines()[2]


def test_the_command_line_says_when_kennel_is_unreachable() -> None:
    done = run_cli(str(photo("gcompris_panda.webp").path), KENNEL_URL="http://127.0.0.1:9")
    assert done.returncode == 2
    assert "unreachable" in done.stdout
