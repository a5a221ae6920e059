"""Training errors: one root, with the cases a user can act on."""


class TrainingError(Exception):
    """Anything in the training pipeline a user can fix (data, config, paths)."""


class DataError(TrainingError):
    """The image tree is not usable as it is."""


class EmptyClass(DataError):
    """A class folder holds no readable image."""


class DownloadFailed(DataError):
    """The archive could not be fetched, verified or unpacked."""


class LabelMismatch(TrainingError):
    """Class folders do not match a model's labels."""


class SkippedImageWarning(UserWarning):
    """An unreadable or duplicate image was left out."""
