"""What the API reads from forms and writes back, beyond the shared job contract."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from jobs.contract import Job, ModelInfo, Prediction


@dataclass(frozen=True)
class Submission:
    data: bytes
    model: str
    top_k: int


class PredictResponse(BaseModel):
    id: str
    model: str
    predictions: list[Prediction]
    batch_size: int
    inference_ms: float

    @classmethod
    def from_job(cls, job: Job) -> PredictResponse:
        assert job.result is not None
        return cls(
            id=job.id,
            model=job.model,
            predictions=job.result.predictions,
            batch_size=job.result.batch_size,
            inference_ms=job.result.inference_ms,
        )


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    default: str = Field(description="The model a submission without `model` goes to.")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody
