"""Per-stage peak memory of a training step: which part of the step sets its peak.

The task and the trainer mark the parts of a step with ``memory_stage(name)`` (student source
pass, teacher pseudo-labels, mixed pass, PiXL terms, each backward, the optimizer step); that is a
no-op unless a :class:`StageProfile` is active (``pixl check``, ``benchmarks/bench_memory.py``).

Peaks are measured, not estimated. On CUDA: ``torch.cuda.max_memory_allocated`` with the peak
reset at every stage boundary. On the CPU: the process's peak RSS (``VmHWM``), reset at every
boundary through ``/proc/self/clear_refs`` (Linux); where that reset is refused, each stage
reports the peak only when it raised the run's peak (``None`` otherwise), which still names the
stage that set it. CPU figures are relative to the RSS when profiling started (model, teacher and data
loaded); CUDA figures are the whole allocation (model included: does the step fit the GPU?).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import torch

OUTSIDE = "outside the marked stages"
"""The name the code between marked stages reports under."""

_ACTIVE: ContextVar[StageProfile | None] = ContextVar("pixl_memory_profile", default=None)


def _proc_status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    return 0


def rss_bytes() -> int:
    """The process's resident memory now (0 where ``/proc`` is missing)."""
    return _proc_status("VmRSS")


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 64 * 1024


def return_freed_blocks() -> bool:
    """Make glibc's malloc hand every block over 64 KiB back to the system when it is freed, so the
    RSS follows the live tensors (as ``MALLOC_MMAP_THRESHOLD_=65536`` does). By default glibc
    raises this threshold up to 32 MiB as large blocks are freed and then keeps freed activations
    in its heap: the RSS of a paper-scale 2 + 2 step then reads GiBs above its tensors' peak
    (benchmarks/results/memory.md; the comparison is in benchmarks/RESULTS.md, under memory), and
    the CPU figure no longer says what a GPU would hold.
    Returns False where it cannot be set (not glibc)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def _reset_rss_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_peak() -> int:
    return _proc_status("VmHWM")


@dataclass
class StageProfile:
    """Peak memory of each named stage of what runs inside :meth:`profiling`.

    Stages may nest: an inner stage's peak also counts for the stages around it.
    """

    device: torch.device
    baseline: int = 0
    """CPU: the RSS when profiling started (model, teacher and data loaded); CUDA: 0."""
    peaks: dict[str, int | None] = field(default_factory=dict)
    """Stage name -> its peak in bytes above ``baseline``, in the order the stages first ran;
    code between marked stages reports as :data:`OUTSIDE`."""
    held: dict[str, int] = field(default_factory=dict)
    """Stage name -> bytes above ``baseline`` already held when it (first) began: its peak
    minus this is what the stage itself added."""
    resets: bool = True
    """Whether the peak could be reset at each boundary (False: see the module doc)."""
    _stack: list[str] = field(default_factory=list)
    _run_peak: int = 0

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def kind(self) -> str:
        return "GPU, allocated by torch" if self.cuda else "CPU, peak RSS"

    def _current(self) -> int:
        if self.cuda:
            return int(torch.cuda.memory_allocated(self.device))
        return rss_bytes()

    def _peak_and_reset(self) -> int:
        if self.cuda:
            torch.cuda.synchronize(self.device)
            peak = int(torch.cuda.max_memory_allocated(self.device))
            torch.cuda.reset_peak_memory_stats(self.device)
            return peak
        peak = _rss_peak()
        if self.resets:
            self.resets = _reset_rss_peak()
        return peak

    def _boundary(self) -> None:
        """Close the segment that ran since the last boundary: its peak counts for every stage
        open now."""
        above = self._peak_and_reset() - self.baseline
        raised = above > self._run_peak
        self._run_peak = max(self._run_peak, above)
        for name in self._stack or [OUTSIDE]:
            if self.resets:
                self.peaks[name] = max(self.peaks.get(name) or 0, above)
            elif raised:
                self.peaks[name] = above

    @contextmanager
    def profiling(self) -> Iterator[StageProfile]:
        """Make this profile the one ``memory_stage`` reports to; the baseline is taken now."""
        # CUDA: the whole allocation (does the step fit the GPU?); CPU: the RSS above what the
        # process held before (the Python runtime and libraries are no part of the step).
        self.baseline = 0 if self.cuda else rss_bytes()
        self._peak_and_reset()
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._boundary()
        self.peaks.setdefault(name, None)
        self.held.setdefault(name, self._current() - self.baseline)
        self._stack.append(name)
        try:
            yield
        finally:
            self._boundary()
            self._stack.pop()

    @property
    def peak(self) -> int:
        """The highest stage peak (bytes above the baseline)."""
        return max((v for v in self.peaks.values() if v is not None), default=0)

    @property
    def peak_stage(self) -> str | None:
        """The innermost stage that reached :attr:`peak` (None before any stage ran)."""
        best = None
        for name, value in self.peaks.items():
            if value is not None and value >= self.peak:
                best = name  # later (inner) stages win ties with the stages around them
        return best


@contextmanager
def memory_stage(name: str) -> Iterator[None]:
    """Mark a part of a training step for the active :class:`StageProfile` (none: no-op)."""
    profile = _ACTIVE.get()
    if profile is None:
        yield
        return
    with profile.stage(name):
        yield
