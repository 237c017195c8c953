"""The writer every benchmark script shares: one generated Markdown file per benchmark.

A script writes its tables with :func:`write_result`, which replaces the whole file
``benchmarks/results/NAME.md`` (``NAME.quick.md`` with ``quick=True``) and puts on top a header it
measures, so a re-run never reprints the circumstances of an earlier one::

    import results  # at the start of the script: the start time and load average are taken here

    path = results.write_result(
        "texscapes",                                  # -> benchmarks/results/texscapes.md
        [("Source-only and UDA", table_markdown),     # (section title, Markdown body), in order
         ("Oracle", other_table)],
        title="TexScapes: source-only, UDA, oracle",  # the file's "# " line (default: NAME)
        quick=args.quick,                             # -> texscapes.quick.md
    )

API:

- ``write_result(name, sections, *, title=None, quick=False, directory=None) -> Path``. ``name``:
  lowercase letters, digits and ``_`` (the file's stem). ``sections``: ``(title, body)`` pairs,
  each written as ``## title`` and ``body`` as given (a body may hold ``###`` subsections). The
  file is written whole, atomically; nothing else is read or kept. ``directory``: tests only
  (default: ``benchmarks/results/``).
- ``measure_header() -> Header``: what the header holds, measured now (command line with the
  thread and offline variables that were set, start and end time, git commit and whether tracked
  files other than the results had uncommitted changes, CPU model, cores, torch threads, memory, torch version, accelerator,
  load average when this module was imported).
- ``render(sections, header, *, title) -> str``: the file's text, for a caller that builds a
  :class:`Header` itself (the files moved out of the old RESULTS.md did, from what it recorded).

Generated files hold numbers and what was measured, no reading: what a result says is written by
hand in ``benchmarks/RESULTS.md`` (and the files it links), which no script writes.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS / "results"
# Environment variables that change what a benchmark measures: shown before the command.
SHOWN_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "HF_HUB_OFFLINE",
    "CUDA_VISIBLE_DEVICES",
    "MALLOC_MMAP_THRESHOLD_",
)
NAME = re.compile(r"[a-z0-9_]+")
OWN_OUTPUTS = (":(top,exclude)benchmarks/results", ":(top,exclude)benchmarks/ablation_runs.json")

# Taken when the script imports this module, i.e. before it measures anything.
STARTED = datetime.now(UTC)
_STARTED_CLOCK = time.perf_counter()
LOAD_AT_START = os.getloadavg() if hasattr(os, "getloadavg") else None


@dataclass(frozen=True)
class Header:
    """The header of a generated file: each field is one ``- label: value`` line."""

    command: str
    date: str
    commit: str
    machine: str
    torch: str
    accelerator: str
    load_at_start: str


LABELS = {
    "command": "command",
    "date": "date",
    "commit": "git commit",
    "machine": "machine",
    "torch": "torch",
    "accelerator": "accelerator",
    "load_at_start": "load average at start (1, 5, 15 min)",
}


def command_line() -> str:
    """The command as run: the variables of :data:`SHOWN_ENV` that were set, the interpreter, argv."""
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in SHOWN_ENV if k in os.environ]
    return " ".join([*env, shlex.join([sys.executable, *sys.argv])])


def git_commit() -> str:
    """``HEAD``'s hash, with a note when tracked files other than the benchmarks' own outputs had
    uncommitted changes; 'unknown' outside git."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=BENCHMARKS, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        # What the benchmarks write themselves does not count as a change to the code that ran.
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ":(top)", *OWN_OUTPUTS)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" (with uncommitted changes)" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return "memory unknown"


def accelerator() -> str:
    if not torch.cuda.is_available():
        return "none (CUDA not available)"
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return ", ".join(names) + f" (CUDA {torch.version.cuda})"


def measure_header() -> Header:
    """The header of a file written now (see the module docstring for the fields)."""
    minutes = (time.perf_counter() - _STARTED_CLOCK) / 60
    load = ", ".join(f"{x:.2f}" for x in LOAD_AT_START) if LOAD_AT_START is not None else "unknown"
    return Header(
        command=f"`{command_line()}`",
        date=f"{STARTED:%Y-%m-%d %H:%M} UTC, written {minutes:.1f} min later",
        commit=git_commit(),
        machine=(
            f"{cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads, {memory_gib()}"
        ),
        torch=torch.__version__,
        accelerator=accelerator(),
        load_at_start=load,
    )


def render(
    sections: list[tuple[str, str]], header: Header, *, title: str, note: str | None = None
) -> str:
    """The text of a generated file: title, provenance, the measured header, the sections."""
    lines = [
        f"# {title}",
        "",
        "Generated by a benchmark script through `benchmarks/results.py`; a re-run rewrites this"
        " whole file. What it says: [`benchmarks/RESULTS.md`](../RESULTS.md).",
        "",
        *[f"- {LABELS[f.name]}: {getattr(header, f.name)}" for f in fields(header)],
    ]
    if note:
        lines += ["", note]
    for section_title, body in sections:
        lines += ["", f"## {section_title}", "", body.strip()]
    return "\n".join(lines) + "\n"


def result_path(name: str, *, quick: bool = False, directory: Path | None = None) -> Path:
    """``directory/NAME.md`` (``NAME.quick.md``); refuses a name that is not ``[a-z0-9_]+``."""
    if not NAME.fullmatch(name):
        raise ValueError(f"result name {name!r}: use lowercase letters, digits and '_'")
    return (directory or RESULTS_DIR) / f"{name}{'.quick' if quick else ''}.md"


def write_result(
    name: str,
    sections: list[tuple[str, str]],
    *,
    title: str | None = None,
    quick: bool = False,
    directory: Path | None = None,
) -> Path:
    """Write ``benchmarks/results/NAME.md`` (``NAME.quick.md`` when ``quick``) whole: the measured
    header, then each ``(title, body)`` section. Returns the path written."""
    if not sections:
        raise ValueError(f"result {name!r}: no sections to write")
    path = result_path(name, quick=quick, directory=directory)
    heading = (title or name) + (" (quick run)" if quick else "")
    text = render(sections, measure_header(), title=heading)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".md.tmp")
    partial.write_text(text)
    partial.replace(path)
    print(f"wrote {path}")
    return path
