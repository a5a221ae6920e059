"""Everything one worker process holds: its models, their batchers, and the job lifecycle."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

from jobs.contract import ErrorCode, Job, JobResult, ModelInfo
from jobs.images import ImageLimits
from worker import metrics
from worker.batcher import DynamicBatcher
from worker.budget import PixelBudget
from worker.classifier import OnnxClassifier, top_k
from worker.errors import ImageExpired, ModelLoadError, WorkerError
from worker.modeldir import ModelDir, discover
from worker.preprocess import preprocess
from worker.rescue import Rescuer
from worker.settings import WorkerSettings
from worker.store import WorkerStore

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


@dataclass
class WorkerRuntime:
    store: WorkerStore
    models: dict[str, ServedModel]
    limits: ImageLimits
    heartbeat_s: float
    budget: PixelBudget | None = None
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    rescuer: Rescuer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def load(cls, settings: WorkerSettings, store: WorkerStore) -> WorkerRuntime:
        """Load every model under settings.models_dir once; raise ModelLoadError if any fails."""
        try:
            model_dirs = discover(settings.models_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise ModelLoadError(str(exc)) from exc
        if not model_dirs:
            raise ModelLoadError(f"No model directories under {settings.models_dir}")
        models = {}
        for model_dir in model_dirs:
            classifier = OnnxClassifier.load(model_dir, settings.device, settings.intra_op_threads)
            batcher = DynamicBatcher(
                classifier,
                settings.max_batch_size,
                settings.max_wait_ms / 1000,
                on_batch=metrics.batch_observer(model_dir.name),
            )
            metrics.MODEL_LOAD.labels(model_dir.name).set(classifier.load_s)
            models[model_dir.name] = ServedModel(model_dir, batcher)
        limits = ImageLimits.from_settings(settings.queue)
        budget = PixelBudget(settings.max_pixels_in_flight)
        return cls(store, models, limits, settings.heartbeat_s, budget)

    def start(self) -> None:
        for served in self.models.values():
            served.batcher.start()

    def start_heartbeat(self) -> None:
        self._announce()
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        for served in self.models.values():
            served.batcher.stop()
        try:
            self.store.retire(self.name)
        except Exception:
            log.warning("could not retire worker %s from Redis", self.name)

    def run(self, job_id: str) -> None:
        """Run one job to its end. Errors of this job fail this job only."""
        job = self.store.load(job_id)
        if job is None:
            log.warning("job %s expired before a worker took it", job_id)
            return
        if job.status.is_terminal():
            log.info("job %s already %s (redelivered); skipping", job_id, job.status)
            return
        job = job.started()
        self.store.save(job)
        metrics.job_started(job)
        try:
            result = self._classify(job)
        except WorkerError as exc:
            log.info("job %s failed: %s: %s", job_id, exc.code, exc)
            ended = job.failed(exc.code, str(exc))
        else:
            ended = job.succeeded(result)
        self.store.finish(ended)
        metrics.job_finished(ended)

    def _classify(self, job: Job) -> JobResult:
        served = self.models.get(job.model)
        if served is None:
            raise UnservedModel(f"This worker does not serve model {job.model!r}")
        data = self.store.image(job.id)
        if data is None:
            raise ImageExpired("The image expired before a worker could take the job")
        with metrics.PREPROCESS.labels(job.model).time():
            array = preprocess(data, served.model.preprocess, self.limits, self.budget)
        outcome = served.batcher.submit(array).result(timeout=BATCH_TIMEOUT_S)
        return JobResult(
            predictions=top_k(outcome.probabilities, served.model.labels, job.top_k),
            batch_size=outcome.batch_size,
            inference_ms=outcome.inference_s * 1000,
        )

    def _announce(self) -> None:
        infos = [served.info() for served in self.models.values()]
        self.store.announce(self.name, infos, ttl_s=self.heartbeat_s * 3)

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.heartbeat_s):
            try:
                self._announce()
                if self.rescuer is not None:
                    self.rescuer.sweep(time.time())
            except Exception as exc:
                log.warning("heartbeat to Redis failed: %s", exc)
