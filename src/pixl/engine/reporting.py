"""Human-readable summaries of finished runs (the CLI prints them; the demo writes them)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from pixl.engine.trainer import TrainResult
from pixl.evaluation import EvalReport, render_table


def table_text(report: EvalReport, width: int = 100) -> str:
    """The per-class IoU table as plain text."""
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(render_table(report))
    return console.export_text()


def print_result(result: TrainResult, console: Console | None = None) -> None:
    console = console or Console(soft_wrap=True)  # paths stay on one line
    if result.report is not None:
        console.print(render_table(result.report))
        console.print(f"mIoU {100 * result.report.miou:.2f} on {result.report.num_images} images")
    console.print(f"{steps_line(result)}; run folder {result.run_dir}")
    if result.weights is not None:
        console.print(f"weights: {result.weights}")


def steps_line(result: TrainResult) -> str:
    """How many steps this process trained, in how long (and from where, for a resumed run)."""
    line = f"{result.steps_run} steps in {result.seconds:.0f} s"
    if result.first_step:
        line += f" (steps {result.first_step + 1}-{result.steps} of a resumed run)"
    return line


def relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
