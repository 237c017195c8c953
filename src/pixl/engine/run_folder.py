"""One writer per run folder, and logs that hold each step once after a resume.

``RunLock`` is ``RUN/run.lock``: JSON with the holder's pid, host and start time, created
atomically (written to a temp file, then hard-linked: the link fails if a lock exists). A lock
whose pid is dead on this host is stale and taken over; a live one (or one from another host,
which cannot be checked from here) refuses the second run with the holder's pid and host.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pixl.config import ExperimentConfig
from pixl.engine.checkpoint import CheckpointManager, resolve_resume
from pixl.errors import PixlError

LOCK_NAME = "run.lock"
# What a fresh run owns in its folder (``--overwrite`` removes these, and only these).
RUN_OUTPUTS = ("checkpoints", "tensorboard", "final", "eval", "metrics.jsonl", "config.yaml")


class RunLockedError(PixlError):
    """Another process writes into this run folder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class RunLock:
    """``RunLock(run_dir).acquire()`` ... ``release()``; ``created_dir`` says whether the folder
    was made by this lock (a failed start removes it again)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.created_dir = False
        self.held = False

    def check(self) -> None:
        """Raise ``RunLockedError`` if a live run holds the folder (nothing is written)."""
        error = self._holder_error()
        if error is not None:
            raise error

    def acquire(self) -> None:
        self.created_dir = not self.run_dir.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        tmp = self.run_dir / f".{LOCK_NAME}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(me))
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)
                    self.held = True
                    return
                except FileExistsError:
                    error = self._holder_error()
                    if error is not None:
                        raise error from None
                    self._remove_stale()
            raise RunLockedError(f"{self.path}: could not take the run lock (contended)")
        finally:
            tmp.unlink(missing_ok=True)

    def _holder_error(self) -> RunLockedError | None:
        """The error naming a live holder; ``None`` when there is no lock or a stale one."""
        holder = read_lock(self.path)
        if holder is None:
            return None
        pid, host = holder.get("pid"), holder.get("host")
        if not isinstance(pid, int) or not isinstance(host, str):
            return RunLockedError(
                f"{self.path}: unreadable lock file; delete it if no run uses {self.run_dir}"
            )
        here = socket.gethostname()
        if host == here and not _pid_alive(pid):
            return None  # stale: its holder died without releasing it
        started = holder.get("started")
        since = (
            time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float))
            else ""
        )
        remote = "" if host == here else f" (if that run is dead, delete {self.path})"
        return RunLockedError(
            f"{self.run_dir}: another pixl run writes here: pid {pid} on host {host}{since}"
            f"{remote}; wait for it to end, or use another name or output_dir"
        )

    def _remove_stale(self) -> None:
        # Renamed first: of two starters racing for a stale lock, only one removes it.
        grave = self.path.with_name(f".{LOCK_NAME}.stale.{os.getpid()}")
        try:
            os.replace(self.path, grave)
            grave.unlink(missing_ok=True)
        except FileNotFoundError:
            pass

    def release(self) -> None:
        if not self.held:
            return
        holder = read_lock(self.path)
        if holder is not None and holder.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def abandon(self, clear: bool = False) -> None:
        """Release after a failed start: the folder goes too if this start created it, else
        ``clear`` removes what a fresh run wrote into it."""
        if self.held and clear and not self.created_dir:
            clear_outputs(self.run_dir)
        self.release()
        if self.created_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def read_lock(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None  # no lock (or no folder: creating it says why)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def in_its_run_folder(
    config: ExperimentConfig, config_path: str | Path, overrides: Sequence[str] = ()
) -> ExperimentConfig:
    """A run's own ``RUN/config.yaml`` names the folder it lies in, wherever that folder is now.

    ``pixl train RUN/config.yaml --resume auto`` (what an interrupted run prints) and ``pixl eval
    RUN/config.yaml`` then use ``RUN`` itself, from any working directory and after the folder
    was moved; an ``output_dir=`` or ``name=`` override still wins. Other configs are unchanged.
    """
    path = Path(config_path)
    folder = path.resolve().parent
    is_run = path.name == "config.yaml" and any(
        (folder / marker).exists() for marker in ("checkpoints", "metrics.jsonl", "final")
    )
    overridden = any(item.split("=", 1)[0].strip() in ("output_dir", "name") for item in overrides)
    if not is_run or overridden:
        return config
    return config.model_copy(update={"output_dir": str(folder.parent), "name": folder.name})


def has_logs(run_dir: Path) -> bool:
    """Whether an earlier run left metrics or TensorBoard events here."""
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file() and metrics.stat().st_size > 0:
        return True
    events = run_dir / "tensorboard"
    return events.is_dir() and any(events.iterdir())


def clear_outputs(run_dir: Path) -> None:
    """Remove what an earlier run wrote (``--overwrite``); other files of the folder stay."""
    for name in RUN_OUTPUTS:
        target = run_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)


def remove_stale_temporaries(checkpoint_dir: Path) -> list[Path]:
    """Temp files of checkpoint writes killed midway (only the lock holder may call this)."""
    if not checkpoint_dir.is_dir():
        return []
    stale = [p for p in checkpoint_dir.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def truncate_metrics(path: Path, step: int) -> int:
    """Keep the rows of ``metrics.jsonl`` with ``step <= step`` (a torn last line goes too);
    rewritten atomically. Returns how many rows were dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
            keep = int(row["step"]) <= step
        except (ValueError, KeyError, TypeError):
            keep = False
        if keep:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, path)
    return dropped


def open_run(
    lock: RunLock, *, clear: bool, resume_step: int | None, write_config: Callable[[Path], None]
) -> None:
    """Take the lock, then make the folder ready: earlier outputs removed (``clear``), stale temp
    files gone, the log cut back to the checkpoint's step (a resume), the config written.

    On failure the lock is released and a folder this start created is removed again.
    """
    lock.acquire()
    try:
        if clear:
            clear_outputs(lock.run_dir)
        remove_stale_temporaries(lock.run_dir / "checkpoints")
        if resume_step is not None:
            truncate_metrics(lock.run_dir / "metrics.jsonl", resume_step)
        write_config(lock.run_dir / "config.yaml")
    except BaseException:
        lock.abandon(clear=clear or resume_step is None)
        raise


def resume_or_fresh(
    resume: str | None, lock: RunLock, checkpoints: CheckpointManager, *, overwrite: bool
) -> Path | None:
    """The checkpoint a start resumes from (``None``: a fresh run), or the one-line reason the
    folder cannot be used as asked. Reads only (the caller checks the lock first)."""
    path = resolve_resume(resume, lock.run_dir)
    if path is not None or overwrite:
        return path
    run = lock.run_dir
    if resume == "auto" and has_logs(run):
        raise PixlError(
            f"{run}: --resume auto found no checkpoint in {checkpoints.directory} but the "
            "folder holds the logs of an earlier run; pass --overwrite to start afresh"
        )
    if checkpoints.existing():
        raise PixlError(
            f"{run}: the run folder already holds checkpoints; pass --resume auto to continue "
            "it, or --overwrite, or another output_dir/name"
        )
    if has_logs(run):
        raise PixlError(
            f"{run}: the run folder holds the logs of an earlier run; pass --overwrite to start "
            "afresh, or another output_dir/name"
        )
    return None
