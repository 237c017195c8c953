"""``pixl demo``: DigitScenes UDA (synth -> photo) end to end on a CPU in minutes.

Prepares DigitScenes if missing, trains the shipped ``digits/uda_pixl`` config (optionally also
the source-only baseline with the same budget), evaluates on target val, and writes
``RUN/demo_report.md`` with the per-class IoU table(s).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from pixl.config import ExperimentConfig, load_config
from pixl.engine.reporting import table_text
from pixl.engine.trainer import Trainer, TrainResult

UDA_CONFIG = "digits/uda_pixl"
SOURCE_ONLY_CONFIG = "digits/source_only_baseline"  # no adaptation, no PiXL


@dataclass
class DemoResult:
    uda: TrainResult
    source_only: TrainResult | None
    report_path: Path
    seconds: float


def demo_config(
    name: str,
    root: str | Path,
    output_dir: str | Path,
    steps: int | None,
    seed: int | None = None,
) -> ExperimentConfig:
    """A shipped DigitScenes config pointed at ``root`` and writing under ``output_dir``."""
    overrides = [f"data.{part}.root={root}" for part in ("labelled", "unlabelled", "val")]
    config = load_config(name)
    if config.data.unlabelled is None:
        overrides = [o for o in overrides if not o.startswith("data.unlabelled")]
    overrides.append(f"output_dir={output_dir}")
    if steps is not None:
        overrides.append(f"trainer.max_steps={steps}")
    if seed is not None:
        overrides.append(f"trainer.seed={seed}")
    return load_config(name, overrides)


def run_demo(
    root: str | Path = "data/digits",
    output_dir: str | Path = "runs/demo",
    *,
    steps: int | None = None,
    compare: bool = False,
    progress: bool = True,
    seed: int | None = None,
    console: Console | None = None,
) -> DemoResult:
    from pixl.data import is_prepared, prepare_dataset

    console = console or Console(soft_wrap=True)  # paths stay on one line
    start = time.perf_counter()
    if not is_prepared("digits", root):
        console.print(f"preparing DigitScenes in {root} (once) ...")
        prepare_dataset("digits", root, progress=progress)
    uda_config = demo_config(UDA_CONFIG, root, output_dir, steps, seed)
    if not progress:
        uda_config.trainer.progress_bar = False
    console.print(f"training {uda_config.name}: {uda_config.trainer.max_steps} steps on CPU")
    uda = Trainer(uda_config, overwrite=True).fit()
    source_only = None
    if compare:
        so_config = demo_config(SOURCE_ONLY_CONFIG, root, output_dir, steps, seed)
        so_config.trainer.progress_bar = progress
        console.print(f"training {so_config.name} (the baseline, same budget)")
        source_only = Trainer(so_config, overwrite=True).fit()
    seconds = time.perf_counter() - start
    path = write_report(uda, source_only, seconds)
    assert uda.report is not None
    console.print(table_text(uda.report))
    console.print(f"UDA (PiXL) target-val mIoU: {100 * uda.report.miou:.2f}")
    if source_only is not None and source_only.report is not None:
        console.print(f"source-only target-val mIoU: {100 * source_only.report.miou:.2f}")
    console.print(f"demo finished in {seconds:.0f} s; report: {path}")
    return DemoResult(uda, source_only, path, seconds)


def write_report(uda: TrainResult, source_only: TrainResult | None, seconds: float) -> Path:
    """``RUN/demo_report.md``: what ran, how long, and the per-class IoU table(s)."""
    lines = ["# pixl demo: DigitScenes UDA (synth -> photo)", ""]
    for label, result in (("UDA + PiXL", uda), ("source-only", source_only)):
        if result is None or result.report is None:
            continue
        lines += [
            f"## {label}: target-val mIoU {100 * result.report.miou:.2f}",
            "",
            f"{result.steps} steps in {result.seconds:.0f} s; run folder `{result.run_dir}`.",
            "",
            "```",
            table_text(result.report).rstrip(),
            "```",
            "",
        ]
    lines.append(f"Total demo time: {seconds:.0f} s.")
    path = uda.run_dir / "demo_report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
