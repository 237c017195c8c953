"""``pixl demo``: UDA (synth -> photo) on an embedded benchmark, end to end on a CPU in minutes.

Prepares the benchmark if missing (DigitScenes by default, or TexScapes), trains its shipped
``uda_pixl`` config, evaluates on target val, and writes ``RUN/demo_report.md`` with the per-class
IoU table(s). ``compare`` also trains, with the same budget and seed, the UDA baseline without PiXL
(self-training + ClassMix only), the source-only model and the target oracle (supervised on the
labelled target frames), so the report separates PiXL's own contribution from self-training's and
shows how much of the gap to the oracle adaptation closes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from pixl.config import ExperimentConfig, load_config
from pixl.engine.reporting import steps_line, table_text
from pixl.engine.trainer import Trainer, TrainResult
from pixl.errors import ConfigError

UDA_LABEL, BASELINE_LABEL, SOURCE_ONLY_LABEL = "UDA + PiXL", "UDA without PiXL", "source-only"
ORACLE_LABEL = "oracle"


@dataclass(frozen=True)
class DemoBenchmark:
    """An embedded benchmark the demo can run: its dataset kind and its four shipped configs."""

    kind: str
    title: str
    uda: str
    baseline: str  # the same UDA without PiXL
    source_only: str  # no adaptation, no PiXL
    oracle: str  # supervised on the labelled target frames, no PiXL

    def compared(self) -> tuple[tuple[str, str], ...]:
        return (
            (BASELINE_LABEL, self.baseline),
            (SOURCE_ONLY_LABEL, self.source_only),
            (ORACLE_LABEL, self.oracle),
        )


BENCHMARKS = {
    "digits": DemoBenchmark(
        "digits", "DigitScenes", "digits/uda_pixl", "digits/uda_baseline",
        "digits/source_only_baseline", "digits/supervised_baseline",
    ),
    "texscapes": DemoBenchmark(
        "texscapes", "TexScapes", "texscapes/uda_pixl", "texscapes/uda_baseline",
        "texscapes/source_only", "texscapes/oracle",
    ),
}  # fmt: skip


@dataclass
class DemoResult:
    uda: TrainResult
    baselines: dict[str, TrainResult]
    """With ``compare``: ``UDA without PiXL``, ``source-only`` and ``oracle``, same steps and seed."""
    report_path: Path
    seconds: float


def demo_config(
    name: str,
    root: str | Path,
    output_dir: str | Path,
    steps: int | None,
    seed: int | None = None,
) -> ExperimentConfig:
    """A shipped demo config pointed at ``root`` and writing under ``output_dir``."""
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
    root: str | Path | None = None,
    output_dir: str | Path = "runs/demo",
    *,
    benchmark: str = "digits",
    steps: int | None = None,
    compare: bool = False,
    progress: bool = True,
    seed: int | None = None,
    console: Console | None = None,
) -> DemoResult:
    from pixl.data import is_prepared, prepare_dataset

    if benchmark not in BENCHMARKS:
        raise ConfigError(f"--benchmark: expected one of {sorted(BENCHMARKS)}, got {benchmark!r}")
    bench = BENCHMARKS[benchmark]
    root = root if root is not None else f"data/{bench.kind}"
    console = console or Console(soft_wrap=True)  # paths stay on one line
    start = time.perf_counter()
    if not is_prepared(bench.kind, root):
        console.print(f"preparing {bench.title} in {root} (once) ...")
        prepare_dataset(bench.kind, root, progress=progress)
    uda_config = demo_config(bench.uda, root, output_dir, steps, seed)
    if not progress:
        uda_config.trainer.progress_bar = False
    console.print(f"training {uda_config.name}: {uda_config.trainer.max_steps} steps on CPU")
    uda = Trainer(uda_config, overwrite=True).fit()
    baselines: dict[str, TrainResult] = {}
    if compare:
        for label, name in bench.compared():
            config = demo_config(name, root, output_dir, steps, seed)
            config.trainer.progress_bar = progress
            console.print(f"training {config.name} ({label}, same budget and seed)")
            baselines[label] = Trainer(config, overwrite=True).fit()
    seconds = time.perf_counter() - start
    path = write_report(uda, baselines, seconds, bench.title)
    if uda.report is not None:
        console.print(table_text(uda.report))
    for line in summary_lines(uda, baselines):
        console.print(line)
    console.print(f"demo finished in {seconds:.0f} s; report: {path}")
    return DemoResult(uda, baselines, path, seconds)


def summary_lines(uda: TrainResult, baselines: dict[str, TrainResult]) -> list[str]:
    """Each run's target-val mIoU and, with the baselines, what PiXL and self-training added."""
    results = {UDA_LABEL: uda, **baselines}
    miou = {k: 100 * r.report.miou for k, r in results.items() if r.report is not None}
    lines = [f"{label} target-val mIoU: {value:.2f}" for label, value in miou.items()]
    if {UDA_LABEL, BASELINE_LABEL} <= miou.keys():
        lines.append(f"PiXL's own contribution (UDA + PiXL - UDA without PiXL): {miou[UDA_LABEL] - miou[BASELINE_LABEL]:+.2f} points")  # fmt: skip
    if {BASELINE_LABEL, SOURCE_ONLY_LABEL} <= miou.keys():
        lines.append(f"self-training's contribution (UDA without PiXL - source-only): {miou[BASELINE_LABEL] - miou[SOURCE_ONLY_LABEL]:+.2f} points")  # fmt: skip
    if {UDA_LABEL, SOURCE_ONLY_LABEL, ORACLE_LABEL} <= miou.keys():
        gap = miou[ORACLE_LABEL] - miou[SOURCE_ONLY_LABEL]
        if gap > 0:
            closed = 100 * (miou[UDA_LABEL] - miou[SOURCE_ONLY_LABEL]) / gap
            lines.append(f"share of the source-only -> oracle gap that UDA + PiXL closes: {closed:.0f} %")  # fmt: skip
    return lines


def write_report(
    uda: TrainResult, baselines: dict[str, TrainResult], seconds: float, title: str = "DigitScenes"
) -> Path:
    """``RUN/demo_report.md``: what ran, how long, and the per-class IoU table(s)."""
    lines = [f"# pixl demo: {title} UDA (synth -> photo)", ""]
    if baselines:
        lines += [f"- {line}" for line in summary_lines(uda, baselines)] + [""]
    for label, result in ((UDA_LABEL, uda), *baselines.items()):
        if result.report is None:
            continue
        lines += [
            f"## {label}: target-val mIoU {100 * result.report.miou:.2f}",
            "",
            f"{steps_line(result)}; run folder `{result.run_dir}`.",
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
