"""The paper's ablations on DigitScenes, PiXL's feature compactness, and the cost of a PiXL step.

Each part trains the shipped DigitScenes configs (``pixl train``, one process per run, ``--jobs``
at a time) and writes its own file ``benchmarks/results/ablations_PART.md`` whole (``--part
where``: ``where_pixl_helps.md``; ``--quick``: every part in one ``ablations.quick.md``); every
finished run is also stored in ``benchmarks/ablation_runs.json`` so parts can be run in separate
sittings and re-rendered, and a re-run skips runs already stored (``--rerun`` forces them).
Usage::

    .venv/bin/python benchmarks/bench_ablations.py --part uda          # Table 5 on DigitScenes
    .venv/bin/python benchmarks/bench_ablations.py --part ssl          # SSL 1/30
    .venv/bin/python benchmarks/bench_ablations.py --part supervised   # supervised +/- PiXL
    .venv/bin/python benchmarks/bench_ablations.py --part sweeps       # eta and temperature
    .venv/bin/python benchmarks/bench_ablations.py --part features     # CH / DB (after uda)
    .venv/bin/python benchmarks/bench_ablations.py --part cost         # one UDA step +/- PiXL
    .venv/bin/python benchmarks/bench_ablations.py --quick             # all of it, small

The warm-start study (the paper's regime: stage 1 from scratch, stage 2 adaptation from it with
PiXL from step 0; ``ablations/warm.py``), in sittings of at most an hour on two cores::

    --part warm-uda              # stage 1 + UDA baseline and PiXL at 4 (temperature, weight)
    --part warm-switches         # the best strength with each open choice switched
    --part warm-ssl-supervised   # the best strength on SSL 1/30 and supervised
    --part warm-hrda             # Table 5 rows on the HRDA-wrapped model
    --part scratch-best          # the from-scratch configs with the best strength
    --part where                 # renders where_pixl_helps.md from the stored runs

Parts: uda, ssl, supervised, sweeps (one seed each: see the seed spread of the uda part to judge
the differences), features (needs the uda part's runs), cost (HRDA MiT-B0, 256 crops, CPU).
The pieces live in ``benchmarks/ablations/`` (run store, runs, runner, tables, analyses).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results
from ablations import store as run_store
from ablations.analyses import part_cost, part_features
from ablations.runner import execute
from ablations.runs import (
    COST_REPEATS,
    QUICK_COST_REPEATS,
    QUICK_STEPS,
    SEEDS,
    SSL_BASELINE,
    STAGE2_STEPS,
    SUPERVISED_BASELINE,
    SWEPT,
    UDA_BASELINE,
    ssl_runs,
    supervised_runs,
    sweep_runs,
    uda_runs,
)
from ablations.store import Run, load_store
from ablations.tables import record, table
from ablations.warm_parts import WARM_PARTS


def table_part(
    title: str, part: str, runs_of: Callable[[argparse.Namespace], list[Run]], reference: str
) -> Callable[[argparse.Namespace], None]:
    """A part that trains ``runs_of(args)`` and records their table (differences paired with the
    ``reference`` row) under ``title``."""

    def run_part(args: argparse.Namespace) -> None:
        start = time.perf_counter()
        runs = runs_of(args)
        store = execute(runs, args)
        elapsed = time.perf_counter() - start
        record(title, args, part, table(runs, store, reference), elapsed, runs)

    return run_part


part_uda = table_part("Ablation: UDA on DigitScenes (Table 5)", "uda", uda_runs, UDA_BASELINE)
part_ssl = table_part(
    "Ablation: semi-supervised 1/30 on DigitScenes", "ssl", ssl_runs, SSL_BASELINE
)
part_supervised = table_part(
    "Ablation: supervised on DigitScenes", "supervised", supervised_runs, SUPERVISED_BASELINE
)


def part_sweeps(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    baseline, eta, temperature = sweep_runs(args)
    store = execute([baseline, *eta, *temperature], args)
    body = (
        f"UDA + PiXL (`{SWEPT}`), one seed per value, each paired with the UDA baseline without"
        " PiXL of the same seed (identical until PiXL starts): compare the differences with the"
        " seed spread of the UDA ablation.\n\n"
        + table([baseline, *eta], store, baseline.label)
        + "\n\n"
        + table([baseline, *temperature], store, baseline.label)
    )
    record(
        "Sweeps: eta and temperature on DigitScenes UDA (Table 6)",
        args,
        "sweeps",
        body,
        time.perf_counter() - start,
        [baseline, *eta, *temperature],
    )


PARTS = {
    "uda": part_uda,
    "ssl": part_ssl,
    "supervised": part_supervised,
    "sweeps": part_sweeps,
    "features": part_features,
    "cost": part_cost,
}
QUICK_PARTS = list(PARTS)  # --quick: the ablations, not the hours-long warm-start study
PARTS.update(WARM_PARTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), action="append")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every part, one seed, short runs (about 15 min on two cores)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, default=None, help="default: each config's own")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at the same time")
    parser.add_argument("--output-dir", default="runs/ablations")
    parser.add_argument("--rerun", action="store_true", help="retrain runs already stored")
    parser.add_argument(
        "--hrda", action="store_true", help="uda part with HRDA (separates adaptive selection)"
    )
    parser.add_argument("--feature-images", type=int, default=100)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument(
        "--cost-repeats", type=int, default=None, help="timed steps per variant (10; --quick: 4)"
    )
    parser.add_argument(
        "--no-record", dest="record", action="store_false", help="print only; write no file"
    )
    parser.add_argument("--store", type=Path, help="where finished runs are kept")
    parser.add_argument(
        "--stage2-steps", type=int, default=STAGE2_STEPS, help="warm-start parts: stage-2 length"
    )
    args = parser.parse_args()
    run_store.STORE = args.store or run_store.STORE  # one store per invocation
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // args.jobs))  # as each run gets
    parts = args.part or []
    if args.quick:
        args.seeds, args.steps = args.seeds[:1], args.steps or QUICK_STEPS
        args.output_dir = str(Path(args.output_dir) / "quick")
        parts = parts or QUICK_PARTS
    args.cost_repeats = args.cost_repeats or (QUICK_COST_REPEATS if args.quick else COST_REPEATS)
    if not parts:
        parser.error("choose --part (repeatable) or --quick")
    args.stored_before = set(load_store())
    minutes = {}
    for part in parts:
        print(f"== {part}")
        start = time.perf_counter()
        PARTS[part](args)
        minutes[part] = (time.perf_counter() - start) / 60
    sections = getattr(args, "quick_sections", [])
    if args.quick and args.record and sections:
        # Only a sitting that trained every run measures how long --quick takes.
        if len(minutes) == len(QUICK_PARTS) and not args.reused:
            per_part = ", ".join(f"{part} {m:.1f}" for part, m in minutes.items())
            sections.append(
                (
                    "Quick mode: how long it took",
                    f"{sum(minutes.values()):.1f} min in all (per part, min: {per_part}); the "
                    "budget is 15 min. Written only by a sitting that trained all its runs (a "
                    "first run, or `--rerun`).",
                )
            )
        results.write_result("ablations", sections, title="Ablations on DigitScenes", quick=True)


if __name__ == "__main__":
    main()
