"""The demo's claim: on DigitScenes target val, UDA + PiXL beats source-only with the same budget.

Trains the shipped ``digits/uda_pixl`` (the demo's config) and ``digits/source_only_baseline``
(no adaptation, no PiXL) for each seed with the same steps, through the ablations' runner and
store (``benchmarks/ablations/``; ``benchmarks/ablation_runs.json``: runs already there are not
retrained, and the UDA ablation reuses them), then times ``pixl demo`` itself on a fresh DigitScenes folder, alone
on the machine. Writes both to ``benchmarks/results/demo.md``. Usage::

    .venv/bin/python benchmarks/bench_demo.py [--seeds 0 1 2] [--jobs 2] [--no-time-demo]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import results
from ablations.runner import execute
from ablations.runs import SEEDS
from ablations.store import Run
from ablations.tables import paired

DEMO = "digits/uda_pixl"
SOURCE_ONLY = "digits/source_only_baseline"


def time_demo(output_dir: Path) -> tuple[float, str]:
    """Wall time of ``pixl demo`` in a fresh folder (DigitScenes generated too) and its last line."""
    root = output_dir / "digits"
    shutil.rmtree(output_dir, ignore_errors=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "pixl.cli", "demo", "--root", str(root)]
    cmd += ["--output-dir", str(output_dir / "runs"), "--no-progress"]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    miou = next(line for line in done.stdout.splitlines() if "target-val mIoU" in line)
    return seconds, miou.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--output-dir", default="runs/ablations")
    parser.add_argument("--no-time-demo", dest="time_demo", action="store_false")
    parser.add_argument("--no-record", dest="record", action="store_false")
    args = parser.parse_args()
    args.steps, args.rerun = None, False
    start = time.perf_counter()
    runs = [
        Run(label, config, (), seed, None)
        for label, config in (("UDA + PiXL", DEMO), ("source-only", SOURCE_ONLY))
        for seed in args.seeds
    ]
    store = execute(runs, args)
    lines = [
        "| seed | UDA + PiXL mIoU % | source-only mIoU % | difference |",
        "|---|---:|---:|---:|",
    ]
    for seed in args.seeds:
        uda = 100 * store[Run("", DEMO, (), seed).key]["miou"]
        source = 100 * store[Run("", SOURCE_ONLY, (), seed).key]["miou"]
        lines.append(f"| {seed} | {uda:.2f} | {source:.2f} | {uda - source:+.2f} |")
    difference = paired(runs, store, "UDA + PiXL", "source-only")
    lines += ["", f"UDA + PiXL minus source-only, seed by seed: {difference} mIoU points."]
    if args.time_demo:
        seconds, last = time_demo(Path("runs/bench_demo"))
        lines += [
            "",
            f"`pixl demo` alone (fresh DigitScenes folder, generation included, seed 0): "
            f"{seconds:.0f} s wall ({seconds / 60:.1f} min); it printed `{last}`.",
        ]
    body = (
        f"Training runs {args.jobs} at a time, the demo timing alone. Configs: `{DEMO}` (what `pixl demo` trains) and `{SOURCE_ONLY}`, same steps and seed, "
        f"each evaluated on DigitScenes target val. This sitting took "
        f"{(time.perf_counter() - start) / 60:.1f} min.\n\n" + "\n".join(lines)
    )
    print(body)
    if args.record:
        results.write_result("demo", [("UDA vs source-only on DigitScenes", body)], title="Demo")


if __name__ == "__main__":
    main()
