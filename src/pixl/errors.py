"""User-facing errors: each carries one line that names the file or key and what was expected."""

import re


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


class RunInterrupted(PixlError):
    """A run stopped on a signal after saving; ``exit_code`` is 128 + the signal number;
    ``rank``: the process's global rank (only rank 0 prints the message)."""

    def __init__(self, message: str, signum: int, rank: int = 0) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
        self.rank = rank


# torch re-raises a DataLoader worker's exception as "Caught X in DataLoader worker process N.
# Original Traceback (most recent call last): ... module.X: message"; the last line is the cause.
_WORKER = re.compile(r"^Caught \w+ in DataLoader worker process \d+\.")
_LAST = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.*)$")
_ERRNO = re.compile(r"^\[Errno (\d+)\] ([^:]+): '(.*)'$")


def error_line(error: BaseException) -> str:
    """The message of ``error`` as one line: a worker's original error unwrapped; an OS error as
    ``path: cause`` (its ``strerror``, e.g. "No space left on device")."""
    text = str(error)
    if _WORKER.match(text):
        lines = [line for line in text.splitlines() if line.strip()]
        found = _LAST.match(lines[-1].strip()) if lines else None
        text = found.group(2) if found else lines[-1].strip()
        errno_form = _ERRNO.match(text)
        if errno_form:  # "[Errno 2] No such file or directory: '/x'" -> "/x: No such file ..."
            return f"{errno_form.group(3)}: {errno_form.group(2)}"
        return text
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename is not None else ""
        if error.filename2 is not None:
            where = f"{where} -> {error.filename2}"
        return f"{where}: {error.strerror}" if where else error.strerror
    return " ".join(text.split()) or type(error).__name__
