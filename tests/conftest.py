"""Fixtures shared by every test: the photos, scenario images, and a running kennel."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from PIL import Image
from playwright.sync_api import Browser, sync_playwright

from jobs import protocol
from jobs.contract import Job
from jobs.settings import QueueSettings
from stack.processes import Service, StartupFailed, free_port, wait_until
from stack.readiness import api_healthy
from stack.redis import EmbeddedRedis
from stack.system import LocalSystem
from tests.browser import chromium_executable

TESTS = Path(__file__).resolve().parent
# The marking rule (`make test-fast` runs what it leaves unmarked): a test is `system` when it
# starts kennel's processes (a worker, the API, `python -m ...`, Prometheus). A test that needs
# only a redis-server of its own stays in-process: that server starts in milliseconds.
SYSTEM_DIRS = {TESTS / "system", TESTS / "stack"}
SYSTEM_FIXTURES = {"system", "http"}
SYSTEM_NAMES = {"start_system", "LocalSystem", "LocalPrometheus", "subprocess"}
PHOTOS = TESTS / "data" / "photos"
# Short enough that a test sees a dead worker's jobs come back; see QueueSettings.
SYSTEM_ENV = {
    "KENNEL_REDELIVERY_TIMEOUT_S": "5",
    "KENNEL_WORKER_MAX_WAIT_MS": "20",
    "KENNEL_WORKER_HEARTBEAT_S": "1",
    "KENNEL_API_PREDICT_TIMEOUT_S": "30",
}


@dataclass(frozen=True)
class Photo:
    path: Path
    expected: set[int]  # ImageNet indices accepted as top-1

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def _manifest() -> list[Photo]:
    with (PHOTOS / "MANIFEST.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        Photo(PHOTOS / r["file"], {int(c.split(":")[0]) for c in r["expected_imagenet"].split(",")})
        for r in rows
    ]


PHOTO_MANIFEST = _manifest()


def photo(name: str) -> Photo:
    return next(p for p in PHOTO_MANIFEST if p.path.name == name)


def starts_processes(item: pytest.Item) -> bool:
    """The marking rule: where the test lives, the fixtures it uses, what its module imports."""
    path = Path(str(item.path))
    module = getattr(item, "module", None)
    return (
        any(path.is_relative_to(d) for d in SYSTEM_DIRS)
        or bool(SYSTEM_FIXTURES & set(getattr(item, "fixturenames", ())))
        or bool(module is not None and SYSTEM_NAMES & set(vars(module)))
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if starts_processes(item):
            item.add_marker(pytest.mark.system)


def start_system(
    var_dir: Path, workers: int = 1, restart_workers: bool = True, **env: str
) -> LocalSystem:
    system = LocalSystem(
        var_dir,
        workers=workers,
        env={**SYSTEM_ENV, **env},
        persist_redis=False,
        restart_workers=restart_workers,
        min_worker_uptime_s=1,  # a worker announces itself only after more than that
    )
    try:
        return system.start()
    except StartupFailed:
        logs = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in system.services())
        system.stop()
        pytest.fail(f"kennel did not start:\n{logs}")


@contextlib.contextmanager
def second_api(system: LocalSystem, name: str, log_dir: Path, **env: str) -> Iterator[str]:
    """Another API process on `system`'s Redis, with settings of its own (`env`); its URL."""
    port = free_port()
    env = {**system.service_env, "KENNEL_API_PORT": str(port), **env}
    api = Service(name, [sys.executable, "-m", "api"], log_dir, env)
    url = f"http://127.0.0.1:{port}"
    api.start()
    try:
        wait_until(lambda: api_healthy(url), 60, name, api)
        yield url
    finally:
        api.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """The in-process tests' own redis-server (no persistence); never the machine's."""
    path = tmp_path_factory.mktemp("redis")
    server = EmbeddedRedis(path / "data", path / "logs", persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """That server, emptied: each test starts from an empty queue."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()
    return redis_server.url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A connection to that server, emptied."""
    with redis.Redis.from_url(redis_url) as connection:
        yield connection


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    """One kennel (embedded Redis, one worker, the API) shared by the tests that only use it."""
    running = start_system(tmp_path_factory.mktemp("system"))
    yield running
    running.stop()


@pytest.fixture
def http(system: LocalSystem) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.api_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless chromium (apt-get installs it when missing), driven by Playwright.

    Module-scoped: while Playwright's sync API is open it keeps an event loop running in this
    thread, and a later test's `asyncio.run` would refuse to start.
    """
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_executable(), args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


@pytest.fixture
def dog_jpeg() -> bytes:
    return photo("grad_dog_cat.jfif").data


@pytest.fixture
def truncated_jpeg() -> bytes:
    """A JPEG cut off part-way: its header passes the API's checks, decoding fails."""
    data = encode(Image.open(photo("gcompris_panda.webp").path).convert("RGB"), "JPEG")
    return data[: len(data) // 2]


def jpeg_claiming(width: int, height: int) -> bytes:
    """A 64x64 JPEG whose frame header is rewritten to claim width x height."""
    data = bytearray(encode(Image.radial_gradient("L").convert("RGB").resize((64, 64)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@pytest.fixture
def decompression_bomb_png() -> bytes:
    """A 30000 x 30000 PNG (900 megapixels) that compresses to a few hundred kilobytes."""
    return encode(Image.new("1", (30_000, 30_000)), "PNG", optimize=True)


@pytest.fixture
def text_file() -> bytes:
    return b"name,breed\nrex,beagle\n"


@pytest.fixture
def huge_upload() -> bytes:
    """Random bytes just over the 10 MiB default upload limit."""
    return np.random.default_rng(0).bytes(10 * 1024 * 1024 + 1)


def submit_job(
    client: redis.Redis,
    job: Job,
    image: bytes,
    settings: QueueSettings | None = None,
    inline: bool = True,
) -> protocol.Admitted:
    """The submit step as `JobClient.submit` takes it (sync); not `inline`: admit, then store
    the image."""
    settings = settings or QueueSettings()
    now = time.time()
    entry = protocol.Entry(job, image)
    args = protocol.submit_call([entry], settings, now, inline)
    reply = client.register_script(protocol.SUBMIT)([], args)
    admitted = protocol.admitted(reply[0], now)
    if admitted.outcome == "queued" and not inline:
        with client.pipeline(transaction=True) as pipe:
            protocol.store_images(pipe, [entry], settings.image_ttl_s)
            pipe.execute()
    return admitted


def fake_throughput(client: redis.Redis, model: str, jobs_per_s: float) -> None:
    """What the finish step holds after ten minutes of `jobs_per_s` jobs of `model` ending."""
    now = time.time()
    held = {"rate": jobs_per_s, "at": now, "since": now - 600}
    client.hset(protocol.throughput_key(model), mapping=held)  # type: ignore[arg-type]


async def finished_job(
    client: httpx.AsyncClient, job_id: str, timeout_s: float = 60
) -> dict[str, Any]:
    """Poll GET /jobs/{id} until the job ends."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        job: dict[str, Any] = (await client.get(f"/jobs/{job_id}")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s}s")
