"""Everything one worker process holds: its models, their batchers, and running a message's
jobs."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from jobs.contract import ErrorCode, Job, JobError, JobResult, JobStatus, ModelInfo, Priority
from jobs.images import ImageLimits
from jobs.protocol import Ending, Started, WorkerProtocol
from worker import metrics
from worker.batcher import BatchOutcome, DynamicBatcher
from worker.budget import JobBudget, PixelBudget
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
    # Images are decoded and resized on this pool (one thread per core by default), not on
    # Celery's threads, so they do not fight ONNX Runtime's threads for the cores.
    preprocessing: ThreadPoolExecutor
    finisher: Finisher
    name: str = field(default_factory=worker_name)
    gate: SuspectGate = field(default_factory=SuspectGate)
    budget: PixelBudget | None = None
    # Jobs started at once (KENNEL_WORKER_CONCURRENCY): a message's jobs reserve their room
    # before they start, so the uploads a worker holds stay bounded as before messages carried
    # several jobs.
    in_flight: JobBudget | None = None
    # A batch job's image waits this long behind interactive images in its model's batcher
    # (KENNEL_BATCH_PROMOTE_AFTER_S, as in the queues).
    batch_delay_s: float = 30.0

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
        preprocessing = ThreadPoolExecutor(
            settings.preprocessing_at_once, thread_name_prefix="preprocess"
        )
        budget = PixelBudget(settings.max_pixels_in_flight)
        return cls(
            protocol,
            models,
            limits,
            preprocessing,
            Finisher(protocol),
            budget=budget,
            in_flight=JobBudget(settings.jobs_in_flight),
            batch_delay_s=settings.queue.batch_promote_after_s,
        )

    def infos(self) -> list[ModelInfo]:
        return [served.info() for served in self.models.values()]

    def start(self) -> None:
        for served in self.models.values():
            served.batcher.start()

    def stop(self) -> None:
        self.preprocessing.shutdown(wait=False, cancel_futures=True)
        for served in self.models.values():
            served.batcher.stop()

    def run(self, job_ids: Sequence[str], suspect: bool = False) -> None:
        """Run one delivery of a message's jobs to their end. Errors of a job fail that job.

        Suspects (a worker died holding them) run alone, one by one; see worker/gate.py."""
        metrics.MESSAGE_JOBS.observe(len(job_ids))
        # Held before waiting at the gate or for room: should this worker die first, a
        # surviving one sends them again within three heartbeats (not the redelivery timeout).
        self.protocol.hold(job_ids, self.name)
        if suspect:
            for job_id in job_ids:
                with self.gate.enter(True), self._room([job_id]):
                    self._run([job_id])
            return
        with self.gate.enter(False), self._room(job_ids):
            self._run(job_ids)

    def _room(self, job_ids: Sequence[str]) -> contextlib.AbstractContextManager[object]:
        if self.in_flight is None:
            return contextlib.nullcontext()
        return self.in_flight.reserve(len(job_ids))

    def _run(self, job_ids: Sequence[str]) -> None:
        """One pipelined start, each job's image preprocessed on the pool and batched (across
        messages), each ending handed to the finisher as it comes; returns once every job's
        end is stored (then the message is acknowledged)."""
        startable = []
        for job_id, started in zip(
            job_ids, self.protocol.start_many(job_ids, self.name), strict=True
        ):
            if self._startable(job_id, started):
                assert started.job is not None
                startable.append((started.job, started.image))
        for job, _ in startable:
            if job.model in self.models:  # its batcher waits for the image, not longer
                self.models[job.model].batcher.expect()
        prepared = [
            (job, self.preprocessing.submit(self._prepare, job, image)) for job, image in startable
        ]
        finishing = [
            (job, self.finisher.submit(self._ending(job, batched))) for job, batched in prepared
        ]
        for job, future in finishing:
            ended = future.result()
            if ended is None:
                log.debug("job %s had already ended (canceled?); its result was dropped", job.id)
                metrics.job_skipped("finish", job)
            else:
                metrics.job_finished(ended)

    def _startable(self, job_id: str, started: Started) -> bool:
        job = started.job
        if job is None:
            log.warning("job %s expired before a worker took it", job_id)
            return False
        if started.outcome == "ended":
            log.debug("job %s already %s (canceled? a duplicate?); skipped", job_id, job.status)
            metrics.job_skipped("start", job)
            return False
        if started.outcome == "expired":
            log.info("job %s passed its deadline before it started; expired", job_id)
            metrics.job_expired(job, "start")
            return False
        if started.outcome == "poison":
            log.warning("job %s ended poison after %d attempts", job_id, job.attempts)
            metrics.job_finished(job)
            return False
        metrics.job_started(job)
        return True

    def _prepare(self, job: Job, image: bytes | None) -> Future[BatchOutcome]:
        """On the preprocessing pool: the job's image, ready and handed to its model's batcher."""
        served = self.models.get(job.model)
        if served is None:
            raise UnservedModel(f"This worker does not serve model {job.model!r}")
        try:
            if image is None:
                raise ImageExpired("The image expired before a worker could take the job")
            with metrics.PREPROCESS.labels(job.model).time():
                array = preprocess(image, served.model.preprocess, self.limits, self.budget)
        except BaseException:
            served.batcher.withdraw()  # announced in _run: its batcher stops waiting for it
            raise
        delay_s = self.batch_delay_s if job.priority == Priority.BATCH else 0.0
        return served.batcher.submit(array, delay_s, expected=True)

    def _ending(self, job: Job, prepared: Future[Future[BatchOutcome]]) -> Ending:
        try:
            outcome = prepared.result().result(timeout=BATCH_TIMEOUT_S)
        except WorkerError as exc:
            log.debug("job %s failed: %s: %s", job.id, exc.code, exc)
            error = JobError(code=exc.code, message=str(exc))
            return Ending(job.id, JobStatus.FAILED, error.model_dump_json())
        except Exception as exc:  # a bug or a stuck batch: fail this job, not its neighbours
            log.exception("job %s failed unexpectedly", job.id)
            error = JobError(code=ErrorCode.INFERENCE_FAILED, message=f"Unexpected error: {exc}")
            return Ending(job.id, JobStatus.FAILED, error.model_dump_json())
        labels = self.models[job.model].model.labels
        result = JobResult(
            predictions=top_k(outcome.probabilities, labels, job.top_k),
            batch_size=outcome.batch_size,
            inference_ms=outcome.inference_s * 1000,
        )
        return Ending(job.id, JobStatus.SUCCEEDED, result.model_dump_json())
