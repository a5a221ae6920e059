"""The page at GET /, in a real headless Chromium against the real system."""

from __future__ import annotations

import base64
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from stack.system import LocalSystem
from tests.conftest import photo

pytestmark = pytest.mark.system
WAIT_MS = 60_000


@pytest.fixture
def page(browser: Browser, system: LocalSystem) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    uncaught: list[str] = []
    opened.on("pageerror", lambda error: uncaught.append(str(error)))
    opened.on(
        "console",
        lambda m: uncaught.append(m.text) if "Content Security Policy" in m.text else None,
    )
    opened.goto(system.api_url + "/")
    expect(opened.locator("#model option")).not_to_have_count(0, timeout=WAIT_MS)
    yield opened
    context.close()
    assert uncaught == []  # no script error, nothing the page's CSP blocked


def test_a_photo_gets_its_label_and_bars(page: Page) -> None:
    page.set_input_files("#file", str(photo("grad_dog_cat.jfif").path))
    expect(page.locator("#state")).to_have_text("succeeded", timeout=WAIT_MS)
    expect(page.locator("#prediction-0 .label")).to_have_text("golden retriever")
    expect(page.locator("#prediction-0 .score")).to_have_text(re.compile(r"^\d+\.\d%$"))
    score = float(page.locator("#prediction-0 .score").inner_text().rstrip("%"))
    assert score > 50
    style = page.locator("#prediction-0 .bar").get_attribute("style") or ""
    width = float(re.fullmatch(r"width: ([\d.]+)%;", style).group(1))  # type: ignore[union-attr]
    assert abs(width - score) < 0.1
    assert page.locator("#predictions li").count() == 5
    assert page.locator("#unsure").is_hidden()
    assert page.locator("#error").is_hidden()
    assert page.locator("#preview").get_attribute("src", timeout=WAIT_MS)


def test_the_page_shows_each_state_from_the_events_stream(
    page: Page, system: LocalSystem, dog_jpeg: bytes
) -> None:
    worker = system.workers[0]
    os.kill(worker.pid, signal.SIGSTOP)  # the job stays queued until the stream is open
    try:
        with page.expect_response(re.compile(r"/jobs/\w+/events$"), timeout=WAIT_MS) as events:
            page.set_input_files(
                "#file", files=[{"name": "dog.jpg", "mimeType": "image/jpeg", "buffer": dog_jpeg}]
            )
        assert events.value.headers["content-type"].startswith("text/event-stream")
        expect(page.locator("#state")).to_have_text("queued")
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    expect(page.locator("#states")).to_have_text("queued → running → succeeded", timeout=WAIT_MS)
    expect(page.locator("#prediction-0 .label")).to_have_text("golden retriever")


def test_a_photo_the_model_does_not_know_says_it_is_not_sure(page: Page) -> None:
    page.set_input_files("#file", str(photo("gcompris_dog.webp").path))  # a German shepherd
    expect(page.locator("#state")).to_have_text("succeeded", timeout=WAIT_MS)
    expect(page.locator("#unsure")).to_be_visible()


def test_the_chosen_model_is_used(page: Page) -> None:
    page.select_option("#model", "imagenet")
    page.set_input_files("#file", str(photo("gcompris_panda.webp").path))
    expect(page.locator("#state")).to_have_text("succeeded", timeout=WAIT_MS)
    expect(page.locator("#prediction-0 .label")).to_contain_text("panda")


def test_a_job_that_fails_in_the_worker_shows_its_code(page: Page, truncated_jpeg: bytes) -> None:
    page.set_input_files(
        "#file", files=[{"name": "cut.jpg", "mimeType": "image/jpeg", "buffer": truncated_jpeg}]
    )
    expect(page.locator("#state")).to_have_text("failed", timeout=WAIT_MS)
    expect(page.locator("#error")).to_have_text(re.compile(r"^decode_failed: "))


def test_a_text_file_shows_the_4xx_error(page: Page, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("name,breed\nrex,beagle\n")
    page.set_input_files("#file", str(notes))
    expect(page.locator("#error")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#error")).to_contain_text("415 not_an_image")
    assert page.locator("#predictions li").count() == 0


def test_the_queue_and_the_workers_are_shown(page: Page) -> None:
    expect(page.locator("#status")).to_have_text("queue: 0 · workers up: 1", timeout=WAIT_MS)


DROP_OR_PASTE = """([kind, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], "dog.jpg", { type: "image/jpeg" }));
    if (kind === "drop") {
        document.getElementById("drop").dispatchEvent(
            new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    } else {
        document.dispatchEvent(
            new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true }));
    }
}"""


@pytest.mark.parametrize("kind", ["drop", "paste"])
def test_a_dropped_or_pasted_image_is_classified(page: Page, dog_jpeg: bytes, kind: str) -> None:
    page.evaluate(DROP_OR_PASTE, [kind, base64.b64encode(dog_jpeg).decode()])
    expect(page.locator("#state")).to_have_text("succeeded", timeout=WAIT_MS)
    expect(page.locator("#prediction-0 .label")).to_have_text("golden retriever")


def test_status_answers_json(system: LocalSystem) -> None:
    body = httpx.get(system.api_url + "/status", timeout=30).json()
    assert body["queue_depth"] >= 0
    assert len(body["workers"]) == 1


def test_the_page_is_served_with_a_content_security_policy(system: LocalSystem) -> None:
    response = httpx.get(system.api_url + "/", timeout=30)
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    script = httpx.get(system.api_url + "/static/page.js", timeout=30)
    assert script.status_code == 200
    assert "followJob" in script.text
