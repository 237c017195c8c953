"""SIGINT / SIGTERM during training: note the signal, let the loop finish its step and save.

A second signal of the same kind falls back to the default behaviour (Ctrl-C twice stops at
once; checkpoint writes are atomic, so that never leaves a half-written checkpoint).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from pixl.errors import RunInterrupted

__all__ = ["RunInterrupted", "StopRequest", "signal_name"]

HANDLED = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Installs the handlers (main thread only) for the lifetime of a ``with`` block."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum == signum:  # the second time: stop now
            signal.signal(signum, self._previous.get(signum) or signal.SIG_DFL)
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            signal.raise_signal(signum)
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def agreed_stop(stop: StopRequest, fabric: Any) -> bool:
    """Whether any rank got SIGINT/SIGTERM; collective, so every rank stops after the same step
    (a scheduler's signal reaches the ranks at slightly different times)."""
    if fabric.world_size == 1:
        return stop.requested
    import torch
    import torch.distributed as dist

    flag = torch.tensor([float(stop.signum or 0)], device=fabric.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.item() and not stop.requested:
        stop.signum = int(flag.item())
    return bool(flag.item())
