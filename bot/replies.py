"""Everything the bot says, as plain text built from plain data."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.contract import ErrorCode, Prediction

HELP = (
    "Send me a photo of a dog and I'll tell you its breed.\n\n"
    "I know ten breeds (the Imagewoof set): Shih-Tzu, Rhodesian ridgeback, beagle, "
    "English foxhound, Border terrier, Australian terrier, golden retriever, "
    "Old English sheepdog, Samoyed and dingo.\n\n"
    "Send a photo, or an image as a file (JPEG, PNG, WebP). Several photos at once work too.\n"
    "/model shows which model this chat uses; /model imagenet switches to the 1000 everyday "
    "ImageNet classes, /model imagewoof back to dog breeds."
)
SEND_A_PHOTO = (
    "I can only look at pictures. Send me a photo of a dog (or an image as a file) "
    "and I'll tell you its breed. /help says more."
)
NOT_SURE = "I'm not sure — it may not be one of the breeds I know."
QUEUE_DOWN = "Sorry, I can't reach my classifier right now. Please try again in a minute."
BUSY = "I'm very busy right now: too many pictures are waiting. Please send it again in a minute."
NO_MODELS = "Sorry, no classifier is running right now. Please try again in a minute."
MODEL_GONE = "The model this chat uses is not served any more; pick another with /model."
TIMED_OUT = "This is taking longer than it should. Please try again in a little while."
DECODE_FAILED = (
    "I couldn't read that image — the file looks damaged. Could you send it again, "
    "or as a photo instead of a file?"
)
JOB_FAILED = "Something went wrong while I looked at that image. Please try again."
UNEXPECTED = "Sorry, something went wrong on my side. Please try again."

IMAGE_REJECTED = {
    ErrorCode.EMPTY_FILE: "That file is empty. Send me a photo of a dog.",
    ErrorCode.NOT_AN_IMAGE: "That doesn't look like an image I can read "
    "(JPEG, PNG, WebP, GIF, BMP or TIFF). Send me a photo of a dog.",
    ErrorCode.TOO_MANY_PIXELS: "That image has too many pixels for me. "
    "Send a smaller one, or as a photo (Telegram shrinks those).",
    ErrorCode.BAD_ASPECT_RATIO: "That image is too long and thin for me. "
    "Send a photo of a dog, not a panorama or a strip.",
}


def percent(score: float) -> str:
    return f"{round(score * 100)}%"


def label(name: str) -> str:
    return name[:1].upper() + name[1:]


def predictions(found: Sequence[Prediction], threshold: float) -> str:
    lines = [f"{label(p.label)} — {percent(p.score)}" for p in found]
    if not found or found[0].score < threshold:
        return "\n".join([NOT_SURE, "", "My best guesses:", *lines] if lines else [NOT_SURE])
    return "\n".join(lines)


def too_large(size: int, limit: int) -> str:
    return (
        f"That file is too big for me ({mib(size)}); the limit is {mib(limit)}. "
        "Send it as a photo instead (Telegram compresses photos), or a smaller file."
    )


def mib(n_bytes: int) -> str:
    return f"{n_bytes / 1024 / 1024:.1f} MB"


def rate_limited(limit: int, window_s: int) -> str:
    return (
        f"That's a lot of pictures! I look at up to {limit} per {window_s} seconds per chat. "
        "Please wait a little and send the rest again."
    )


def chat_model(current: str, available: Sequence[str]) -> str:
    return (
        f"This chat uses the model {current}.\n"
        f"Available: {', '.join(available)}. Switch with /model <name>."
    )


def model_set(model: str) -> str:
    return f"Done: this chat now uses the model {model}."


def unknown_model(model: str, available: Sequence[str]) -> str:
    return f"I don't know a model called {model!r}. Available: {', '.join(available) or 'none'}."
