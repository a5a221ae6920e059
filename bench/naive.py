"""The "no queue" reference: a naive HTTP server with kennel's preprocessing and ONNX Runtime.

`POST /predict` (multipart `image`, optional `model`) decodes, preprocesses and classifies the
one image in FastAPI's thread pool, with the same code and session settings as kennel's worker
(`worker.preprocess`, `worker.classifier.OnnxClassifier`), and answers the top 5 predictions.
No Redis, no queue, no batching: what a first, simple server would do. The benchmark runs it
as a child process next to kennel (`python -m bench.naive --port P --models-dir DIR`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from jobs.images import ImageLimits
from jobs.settings import QueueSettings
from stack.processes import Service, free_port, wait_until
from stack.readiness import answers_http
from worker.classifier import OnnxClassifier, top_k
from worker.errors import DecodeFailed
from worker.modeldir import discover
from worker.preprocess import preprocess, stack

TOP_K = 5


class NaiveError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def create_naive_app(models_dir: Path, intra_op_threads: int = 0) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        models = discover(models_dir)
        app.state.classifiers = {
            m.name: OnnxClassifier.load(m, intra_op_threads=intra_op_threads) for m in models
        }
        app.state.limits = ImageLimits.from_settings(QueueSettings.model_validate({}))
        yield

    app = FastAPI(title="naive server (benchmark reference)", lifespan=lifespan)

    @app.exception_handler(NaiveError)
    async def failed(_: Request, exc: NaiveError) -> JSONResponse:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, 422)

    @app.post("/predict")
    def predict(  # a plain def: FastAPI runs it in its thread pool, as the reference should
        request: Request,
        image: Annotated[UploadFile, File()],
        model: Annotated[str, Form()] = "imagewoof",
    ) -> dict[str, Any]:
        classifier: OnnxClassifier | None = request.app.state.classifiers.get(model)
        if classifier is None:
            raise NaiveError("unknown_model", f"No model {model!r}.")
        try:
            array = preprocess(
                image.file.read(), classifier.model.preprocess, request.app.state.limits
            )
        except DecodeFailed as exc:
            raise NaiveError("decode_failed", str(exc)) from exc
        (probabilities,) = classifier.predict_batch(stack([array]))
        predictions = top_k(probabilities, classifier.labels, TOP_K)
        return {"model": model, "predictions": [p.model_dump() for p in predictions]}

    return app


class NaiveServer:
    """The naive server as a child process on a free port, started and always stopped."""

    def __init__(self, models_dir: Path, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "bench.naive", "--port", str(self.port),
                "--models-dir", str(models_dir)]  # fmt: skip
        self.service = Service("naive", argv, log_dir)

    @property
    def pid(self) -> int:
        return self.service.pid

    def __enter__(self) -> NaiveServer:
        self.service.start()
        wait_until(lambda: answers_http(f"{self.url}/docs"), 60, "the naive server", self.service)
        return self

    def __exit__(self, *_: object) -> None:
        self.service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--intra-op-threads", type=int, default=0)
    args = parser.parse_args()
    app = create_naive_app(args.models_dir, args.intra_op_threads)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
