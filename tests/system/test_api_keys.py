"""KENNEL_API_KEYS against the real system: keys, owners and rates, through real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from kennel.client import Client
from kennel.errors import Forbidden, JobNotFound, Unauthorized
from stack.system import LocalSystem
from tests.conftest import photo, start_system
from tests.kennel.test_client import run_cli

pytestmark = pytest.mark.system
KEYS = "k-alice alice 600\nk-bob bob 600\nk-tight tight 2\n"


@pytest.fixture(scope="module")
def keyed_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    var = tmp_path_factory.mktemp("keyed")
    (var / "keys.txt").write_text(KEYS)
    running = start_system(var, KENNEL_API_KEYS=str(var / "keys.txt"))
    yield running
    running.stop()


@pytest.fixture
def anonymous(keyed_system: LocalSystem) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keyed_system.api_url, timeout=60) as client:
        yield client


def as_client(system: LocalSystem, key: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=system.api_url, timeout=60, headers=headers)


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.mark.parametrize(("method", "path"), [("POST", "/jobs"), ("POST", "/predict")])
def test_a_job_route_without_a_key_is_401(
    anonymous: httpx.Client, dog_jpeg: bytes, method: str, path: str
) -> None:
    response = anonymous.request(method, path, files={"image": dog_jpeg})
    assert error_of(response) == (401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_reading_a_job_without_a_key_is_401(anonymous: httpx.Client) -> None:
    assert error_of(anonymous.get("/jobs/0123")) == (401, "unauthorized")
    basic = anonymous.get("/jobs/0123", headers={"Authorization": "Basic YTpi"})
    assert error_of(basic) == (401, "unauthorized")


def test_an_unknown_key_is_403(keyed_system: LocalSystem, dog_jpeg: bytes) -> None:
    with as_client(keyed_system, "k-mallory") as mallory:
        assert error_of(mallory.post("/jobs", files={"image": dog_jpeg})) == (403, "forbidden")
        assert error_of(mallory.get("/jobs/0123")) == (403, "forbidden")


def test_a_client_reads_its_own_jobs_and_no_one_elses(
    keyed_system: LocalSystem, dog_jpeg: bytes
) -> None:
    with as_client(keyed_system, "k-alice") as alice, as_client(keyed_system, "k-bob") as bob:
        submitted = alice.post("/jobs", files={"image": dog_jpeg})
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        assert submitted.json()["owner"] == "alice"
        mine = alice.get(f"/jobs/{job_id}")
        assert mine.status_code == 200
        assert mine.json()["owner"] == "alice"
        assert error_of(bob.get(f"/jobs/{job_id}")) == (404, "job_not_found")
        predicted = bob.post("/predict", files={"image": dog_jpeg})
        assert predicted.status_code == 200, predicted.text
        assert predicted.json()["predictions"][0]["label"] == "golden retriever"
        assert error_of(alice.get(f"/jobs/{predicted.json()['id']}")) == (404, "job_not_found")


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", "/metrics", "/models", "/docs", "/", "/status", "/static/page.js"],
)
def test_health_metrics_models_and_docs_stay_open(anonymous: httpx.Client, path: str) -> None:
    assert anonymous.get(path).status_code == 200


def test_beyond_its_rate_a_client_gets_429_with_retry_after(
    keyed_system: LocalSystem, dog_jpeg: bytes
) -> None:
    if time.time() % 60 > 40:  # keep the three submissions inside one minute's window
        time.sleep(61 - time.time() % 60)
    with as_client(keyed_system, "k-tight") as tight, as_client(keyed_system, "k-bob") as bob:
        answers = [tight.post("/jobs", files={"image": dog_jpeg}) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429], [a.text for a in answers]
        assert error_of(answers[2]) == (429, "rate_limited")
        assert 1 <= int(answers[2].headers["Retry-After"]) <= 61
        assert bob.post("/jobs", files={"image": dog_jpeg}).status_code == 202  # others go on
        # Reading is not a submission: the limited client still sees its jobs.
        assert tight.get(f"/jobs/{answers[0].json()['id']}").status_code == 200


def test_the_client_sends_its_key_and_raises_typed_errors(keyed_system: LocalSystem) -> None:
    dog = photo("grad_dog_cat.jfif").path
    with Client(keyed_system.api_url) as nobody, pytest.raises(Unauthorized) as refused:
        nobody.submit(dog)
    assert refused.value.code == "unauthorized"
    with Client(keyed_system.api_url, api_key="k-mallory") as mallory, pytest.raises(Forbidden):
        mallory.submit(dog)
    with Client(keyed_system.api_url, api_key="k-alice") as alice:
        job = alice.classify(dog)
    assert job.owner == "alice"
    with Client(keyed_system.api_url, api_key="k-bob") as bob, pytest.raises(JobNotFound):
        bob.get(job.id)


def test_the_command_line_reads_kennel_api_key(keyed_system: LocalSystem) -> None:
    dog = str(photo("grad_dog_cat.jfif").path)
    keyed = run_cli(dog, KENNEL_URL=keyed_system.api_url, KENNEL_API_KEY="k-bob")
    assert keyed.returncode == 0, keyed.stdout + keyed.stderr
    assert "golden retriever" in keyed.stdout
    unkeyed = run_cli(dog, KENNEL_URL=keyed_system.api_url, KENNEL_API_KEY="")
    assert unkeyed.returncode == 1
    assert "unauthorized" in unkeyed.stdout


def test_the_page_works_with_a_key_typed_in(browser: Browser, keyed_system: LocalSystem) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(keyed_system.api_url + "/")
        expect(page.locator("#model option")).not_to_have_count(0, timeout=60_000)
        page.set_input_files("#file", str(photo("grad_dog_cat.jfif").path))
        expect(page.locator("#error")).to_contain_text("401 unauthorized", timeout=60_000)
        page.fill("#key", "k-alice")
        page.set_input_files("#file", str(photo("grad_dog_cat.jfif").path))
        expect(page.locator("#state")).to_have_text("succeeded", timeout=60_000)
        expect(page.locator("#prediction-0 .label")).to_have_text("golden retriever")
        assert page.locator("#error").is_hidden()
    finally:
        context.close()
