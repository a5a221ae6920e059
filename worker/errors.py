"""Worker errors. A WorkerError fails its own job only; ModelLoadError stops the worker."""

from jobs.contract import ErrorCode


class WorkerError(Exception):
    code: ErrorCode = ErrorCode.INFERENCE_FAILED


class DecodeFailed(WorkerError):
    code = ErrorCode.DECODE_FAILED


class ImageExpired(WorkerError):
    code = ErrorCode.IMAGE_EXPIRED


class InferenceFailed(WorkerError):
    code = ErrorCode.INFERENCE_FAILED


class ModelLoadError(Exception):
    """Fatal: a model that cannot load stops the worker process loudly."""
