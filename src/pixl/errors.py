"""User-facing errors: each carries one line that names the file or key and what was expected."""


class PixlError(Exception):
    """An error the user can fix (bad config, missing data, corrupt file); shown without traceback."""


class ConfigError(PixlError, ValueError):
    """A configuration key or value is wrong."""


class DataError(PixlError):
    """A dataset folder, image or label is missing or malformed."""


class CheckpointError(PixlError):
    """A checkpoint or weights file cannot be used here."""
