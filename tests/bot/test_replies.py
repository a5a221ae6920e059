"""What a chat reads: predictions as plain text, and one message per kind of error."""

from __future__ import annotations

import pytest

from bot import replies
from bot.errors import AnswerTimedOut, BotError, ImageTooLarge, JobFailed, RateLimited
from bot.handlers.errors import explain
from jobs.contract import Prediction
from jobs.errors import (
    EmptyImage,
    JobsError,
    NoModelsServed,
    NotAnImage,
    QueueFull,
    QueueUnavailable,
    TooManyPixels,
    UnknownModel,
)

BEAGLE = [
    Prediction(label="beagle", score=0.912),
    Prediction(label="English foxhound", score=0.05),
    Prediction(label="Border terrier", score=0.004),
]


def test_confident_answer_lists_breeds_with_percentages() -> None:
    assert replies.predictions(BEAGLE, threshold=0.4) == (
        "Beagle — 91%\nEnglish foxhound — 5%\nBorder terrier — 0%"
    )


def test_unsure_answer_says_so_and_still_shows_the_guesses() -> None:
    text = replies.predictions(BEAGLE, threshold=0.95)
    assert text.startswith("I'm not sure — it may not be one of the breeds I know")
    assert text.endswith("Beagle — 91%\nEnglish foxhound — 5%\nBorder terrier — 0%")


def test_no_predictions_is_an_unsure_answer() -> None:
    assert replies.predictions([], threshold=0.4) == replies.NOT_SURE


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ImageTooLarge(25 * 1024 * 1024, 10 * 1024 * 1024), "too big for me (25.0 MB)"),
        (RateLimited(10, 60), "up to 10 per 60 seconds"),
        (AnswerTimedOut("job-1"), replies.TIMED_OUT),
        (JobFailed("job-1", "decode_failed", "truncated"), replies.DECODE_FAILED),
        (JobFailed("job-1", "inference_failed", "boom"), replies.JOB_FAILED),
        (EmptyImage("empty"), "That file is empty"),
        (NotAnImage("nope"), "doesn't look like an image"),
        (TooManyPixels("huge"), "too many pixels"),
        (QueueUnavailable("down"), replies.QUEUE_DOWN),
        (QueueFull("full", retry_after_s=3), replies.BUSY),
        (NoModelsServed("none"), replies.NO_MODELS),
        (UnknownModel("gone"), replies.MODEL_GONE),
        (BotError("?"), replies.UNEXPECTED),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else "",
)
def test_every_known_error_has_a_friendly_reply(error: BotError | JobsError, expected: str) -> None:
    assert expected in explain(error)
