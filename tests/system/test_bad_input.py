"""Bad input answers a 4xx with its own code, never a 500, and disturbs no other job."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from PIL import Image

from stack.system import LocalSystem
from tests.conftest import encode, finished_job, jpeg_claiming


def _error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body["error"]) >= {"code", "message"}, body
    assert body["error"]["message"]
    return response.status_code, body["error"]["code"]


@pytest.mark.parametrize("path", ["/jobs", "/predict"])
def test_not_an_image_is_415(http: httpx.Client, text_file: bytes, path: str) -> None:
    assert _error(http.post(path, files={"image": text_file})) == (415, "not_an_image")


def test_empty_file_is_422(http: httpx.Client) -> None:
    assert _error(http.post("/jobs", files={"image": b""})) == (422, "empty_file")


def test_upload_over_the_byte_limit_is_413(http: httpx.Client, huge_upload: bytes) -> None:
    assert _error(http.post("/jobs", files={"image": huge_upload})) == (413, "file_too_large")


def test_chunked_upload_over_the_limit_is_413(http: httpx.Client, huge_upload: bytes) -> None:
    """Without a Content-Length the limit holds while the body streams in."""
    boundary = "kennelboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()

    def body() -> object:
        yield head
        for start in range(0, len(huge_upload), 1 << 20):
            yield huge_upload[start : start + (1 << 20)]
        yield f"\r\n--{boundary}--\r\n".encode()

    response = http.post(
        "/jobs",
        content=body(),  # a generator: httpx sends it chunked
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert _error(response) == (413, "file_too_large")


def test_decompression_bomb_is_413(http: httpx.Client, decompression_bomb_png: bytes) -> None:
    assert len(decompression_bomb_png) < 1024 * 1024  # small on the wire, huge decoded
    assert _error(http.post("/jobs", files={"image": decompression_bomb_png})) == (
        413,
        "too_many_pixels",
    )


def test_unknown_model_is_422(http: httpx.Client, dog_jpeg: bytes) -> None:
    response = http.post("/jobs", files={"image": dog_jpeg}, data={"model": "nope"})
    assert _error(response) == (422, "unknown_model")
    assert "imagewoof" in response.json()["error"]["message"]


def test_missing_image_field_is_422(http: httpx.Client) -> None:
    assert _error(http.post("/jobs", data={"model": "imagenet"})) == (422, "invalid_request")


def test_top_k_out_of_range_is_422(http: httpx.Client, dog_jpeg: bytes) -> None:
    response = http.post("/jobs", files={"image": dog_jpeg}, data={"top_k": "0"})
    assert _error(response) == (422, "invalid_request")


def test_unknown_job_is_404(http: httpx.Client) -> None:
    assert _error(http.get("/jobs/does-not-exist")) == (404, "job_not_found")


def test_truncated_jpeg_fails_its_job_with_decode_failed(
    http: httpx.Client, truncated_jpeg: bytes
) -> None:
    response = http.post("/predict", files={"image": truncated_jpeg})
    assert _error(response) == (422, "decode_failed")


def test_corrupt_image_in_a_batch_fails_alone(
    system: LocalSystem, dog_jpeg: bytes, truncated_jpeg: bytes
) -> None:
    uploads = [dog_jpeg] * 12 + [truncated_jpeg] + [dog_jpeg] * 12

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=system.api_url, timeout=60) as client:
            submitted = await asyncio.gather(
                *(client.post("/jobs", files={"image": data}) for data in uploads)
            )
            ids = [r.json()["id"] for r in submitted]
            return [await finished_job(client, job_id) for job_id in ids]

    jobs = asyncio.run(run())
    failed = [job for job in jobs if job["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["error"]["code"] == "decode_failed"
    assert jobs.index(failed[0]) == 12
    succeeded = [job for job in jobs if job["status"] == "succeeded"]
    assert len(succeeded) == 24
    # The corrupt image shared the queue with the others: some of them ran batched.
    assert max(job["result"]["batch_size"] for job in succeeded) > 1


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1), (1, 5000)], ids=str)
def test_elongated_images_are_422_from_the_header(
    http: httpx.Client, size: tuple[int, int]
) -> None:
    response = http.post("/jobs", files={"image": encode(Image.new("RGB", size), "PNG")})
    assert _error(response) == (422, "bad_aspect_ratio")


def test_a_jpeg_claiming_more_pixels_than_it_carries_fails_decode(http: httpx.Client) -> None:
    response = http.post("/predict", files={"image": jpeg_claiming(7000, 7000)})
    assert _error(response) == (422, "decode_failed")


def test_405_says_which_methods_are_allowed(http: httpx.Client) -> None:
    response = http.put("/jobs")
    assert _error(response) == (405, "http_error")
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=zz"],
    ids=["no_boundary", "garbage_body"],
)
def test_a_malformed_multipart_body_is_422(http: httpx.Client, content_type: str) -> None:
    response = http.post(
        "/jobs", content=b"--zz\r\nnot a part at all", headers={"Content-Type": content_type}
    )
    assert _error(response) == (422, "invalid_request")


def test_two_image_parts_are_422(http: httpx.Client, dog_jpeg: bytes) -> None:
    files = [("image", ("a.jpg", dog_jpeg)), ("image", ("b.jpg", dog_jpeg))]
    response = http.post("/jobs", files=files)
    assert _error(response) == (422, "invalid_request")
    assert "image" in response.json()["error"]["message"]


def test_a_huge_model_name_is_not_echoed_whole(http: httpx.Client, dog_jpeg: bytes) -> None:
    response = http.post("/jobs", files={"image": dog_jpeg}, data={"model": "m" * 100_000})
    assert _error(response) == (422, "invalid_request")
    assert len(response.content) < 1000


@pytest.mark.parametrize("top_k", ["", " 7", "5.0", "7 ", "+5", "0x5", "1e1"])
def test_top_k_must_be_a_plain_integer(http: httpx.Client, dog_jpeg: bytes, top_k: str) -> None:
    response = http.post("/jobs", files={"image": dog_jpeg}, data={"top_k": top_k})
    assert _error(response) == (422, "invalid_request")


def test_a_plain_top_k_is_taken(http: httpx.Client, dog_jpeg: bytes) -> None:
    response = http.post("/jobs", files={"image": dog_jpeg}, data={"top_k": "7"})
    assert response.status_code == 202
    assert response.json()["top_k"] == 7


def test_the_openapi_lists_every_error_where_it_happens(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    for path in ("/jobs", "/predict"):
        assert {"408", "413", "415", "422", "503"} <= set(paths[path]["post"]["responses"])
    assert {"404", "503"} <= set(paths["/jobs/{job_id}"]["get"]["responses"])
    assert "503" in paths["/models"]["get"]["responses"]
    assert "503" in paths["/readyz"]["get"]["responses"]
    metrics = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
