"""User-facing errors: each carries one line that names the file or key and what was expected."""


class PixlError(Exception):
    """An error the user can fix (bad config, missing data, corrupt file); shown without traceback."""


class ConfigError(PixlError, ValueError):
    """A configuration key or value is wrong."""


class DataError(PixlError):
    """A dataset folder, image or label is missing or malformed."""


class CheckpointError(PixlError):
    """A checkpoint or weights file cannot be used here."""


def one_line(error: BaseException | str, limit: int = 200) -> str:
    """An exception's message (or a text) as one line for an ``error: ...`` message.

    Library errors often span lines (a header, then the details); the user's message must not. All
    whitespace runs, newlines included, become one space; the result is cut at ``limit`` characters
    (ending in "..."); an exception without text gives its type name.
    """
    text = " ".join(str(error).split())
    if not text:
        return type(error).__name__ if isinstance(error, BaseException) else ""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
