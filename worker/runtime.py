"""Everything one worker process holds: its models, their batchers, and running one job."""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field

from jobs.contract import ErrorCode, Job, JobError, JobResult, JobStatus, ModelInfo
from jobs.images import ImageLimits
from jobs.protocol import Ending, WorkerProtocol
from worker import metrics
from worker.batcher import DynamicBatcher
from worker.budget import PixelBudget
from worker.classifier import OnnxClassifier, top_k
from worker.errors import ImageExpired, ModelLoadError, WorkerError
from worker.finisher import Finisher
from worker.gate import SuspectGate
from worker.modeldir import ModelDir, discover
from worker.preprocess import preprocess
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)

# A job waits at most this long for its batch; far beyond any real batch on any machine.
BATCH_TIMEOUT_S = 300


class UnservedModel(WorkerError):
    code = ErrorCode.UNKNOWN_MODEL


@dataclass
class ServedModel:
    model: ModelDir
    batcher: DynamicBatcher

    def info(self) -> ModelInfo:
        return ModelInfo(
            name=self.model.name,
            labels=self.model.labels,
            description=str(self.model.card.get("description", "")),
        )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerRuntime:
    protocol: WorkerProtocol
    models: dict[str, ServedModel]
    limits: ImageLimits
    # Jobs run on Celery's threads (2 x batch size); this many preprocess at once, so they do
    # not fight ONNX Runtime's threads for the cores.
    preprocessing: threading.BoundedSemaphore
    finisher: Finisher
    name: str = field(default_factory=worker_name)
    gate: SuspectGate = field(default_factory=SuspectGate)
    budget: PixelBudget | None = None

    @classmethod
    def load(cls, settings: WorkerSettings, protocol: WorkerProtocol) -> WorkerRuntime:
        """Load every model under settings.models_dir once; raise ModelLoadError if any fails."""
        try:
            model_dirs = discover(settings.models_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise ModelLoadError(str(exc)) from exc
        if not model_dirs:
            raise ModelLoadError(f"No model directories under {settings.models_dir}")
        models = {}
        for model_dir in model_dirs:
            classifier = OnnxClassifier.load(
                model_dir, settings.device, settings.intra_op_threads, settings.ort_spinning
            )
            batcher = DynamicBatcher(
                classifier,
                settings.max_batch_size,
                settings.max_wait_ms / 1000,
                on_batch=metrics.batch_observer(model_dir.name),
            )
            metrics.MODEL_LOAD.labels(model_dir.name).set(classifier.load_s)
            metrics.model_served(model_dir.name)
            models[model_dir.name] = ServedModel(model_dir, batcher)
        limits = ImageLimits.from_settings(settings.queue)
        preprocessing = threading.BoundedSemaphore(settings.preprocessing_at_once)
        budget = PixelBudget(settings.max_pixels_in_flight)
        return cls(protocol, models, limits, preprocessing, Finisher(protocol), budget=budget)

    def infos(self) -> list[ModelInfo]:
        return [served.info() for served in self.models.values()]

    def start(self) -> None:
        for served in self.models.values():
            served.batcher.start()

    def stop(self) -> None:
        for served in self.models.values():
            served.batcher.stop()

    def run(self, job_id: str, suspect: bool = False) -> None:
        """Run one delivery of a job to its end. Errors of this job fail this job only.

        A suspect (a worker died holding it) runs alone; see worker/gate.py."""
        with self.gate.enter(suspect):
            self._run(job_id)

    def _run(self, job_id: str) -> None:
        started = self.protocol.start(job_id, self.name)
        if started.job is None:
            log.warning("job %s expired before a worker took it", job_id)
            return
        job = started.job
        if started.outcome == "ended":
            log.debug("job %s already %s (canceled? a duplicate?); skipped", job_id, job.status)
            metrics.job_skipped("start", job)
            return
        if started.outcome == "expired":
            log.info("job %s passed its deadline before it started; expired", job_id)
            metrics.job_expired(job, "start")
            return
        if started.outcome == "poison":
            log.warning("job %s ended poison after %d attempts", job_id, job.attempts)
            metrics.job_finished(job)
            return
        metrics.job_started(job)
        try:
            result = self._classify(job, started.image)
        except WorkerError as exc:
            log.debug("job %s failed: %s: %s", job_id, exc.code, exc)
            error = JobError(code=exc.code, message=str(exc))
            ending = Ending(job_id, JobStatus.FAILED, error.model_dump_json())
        else:
            ending = Ending(job_id, JobStatus.SUCCEEDED, result.model_dump_json())
        ended = self.finisher.finish(ending)
        if ended is None:
            log.debug("job %s had already ended (canceled?); this result was dropped", job_id)
            metrics.job_skipped("finish", job)
            return
        metrics.job_finished(ended)

    def _classify(self, job: Job, image: bytes | None) -> JobResult:
        served = self.models.get(job.model)
        if served is None:
            raise UnservedModel(f"This worker does not serve model {job.model!r}")
        if image is None:
            raise ImageExpired("The image expired before a worker could take the job")
        with self.preprocessing, metrics.PREPROCESS.labels(job.model).time():
            array = preprocess(image, served.model.preprocess, self.limits, self.budget)
        outcome = served.batcher.submit(array).result(timeout=BATCH_TIMEOUT_S)
        return JobResult(
            predictions=top_k(outcome.probabilities, served.model.labels, job.top_k),
            batch_size=outcome.batch_size,
            inference_ms=outcome.inference_s * 1000,
        )
