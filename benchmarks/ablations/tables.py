"""The ablations' tables (mean ± std over seeds, paired differences) and the result file each part
writes (``benchmarks/results/ablations_PART.md``: what the sitting trained, then the tables; the
header with the command and the machine is measured by ``benchmarks/results.py``)."""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Sequence

import results
from ablations.runs import COST_REPEATS, SEEDS, STAGE2_STEPS
from ablations.store import Run, load_store


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def paired_deltas(
    runs: list[Run], store: dict[str, dict], label: str, reference: str
) -> list[float]:
    """``label`` minus ``reference`` in mIoU points, seed by seed, over the seeds both have stored
    (same seed = same run until their settings differ); empty when ``label`` is the reference."""
    by_seed = {
        name: {
            r.seed: 100 * store[r.key]["miou"] for r in runs if r.label == name and r.key in store
        }
        for name in (label, reference)
    }
    seeds = sorted(by_seed[label].keys() & by_seed[reference].keys())
    if label == reference:
        return []
    return [by_seed[label][s] - by_seed[reference][s] for s in seeds]


def paired(runs: list[Run], store: dict[str, dict], label: str, reference: str) -> str:
    """The paired differences of :func:`paired_deltas` as mean ± std and how many seeds ``label``
    wins."""
    return describe_deltas(paired_deltas(runs, store, label, reference))


def describe_deltas(deltas: list[float]) -> str:
    """Paired differences as ``mean ± std (wins/n higher)``; ``-`` when there are none."""
    if not deltas:
        return "-"
    spread = f" ± {statistics.stdev(deltas):.2f}" if len(deltas) > 1 else ""
    wins = sum(d > 0 for d in deltas)
    return f"{statistics.fmean(deltas):+.2f}{spread} ({wins}/{len(deltas)} higher)"


def table(runs: list[Run], store: dict[str, dict], reference: str | None = None) -> str:
    """One row per label: mIoU mean ± std over seeds, the seeds' values, the paired difference with
    the ``reference`` row, time, PiXL statistics."""
    labels = list(dict.fromkeys(r.label for r in runs))
    lines = [
        "| setting | target-val mIoU % (mean ± std) | per seed | paired difference with the "
        "reference | s per run | late CE (labelled / mixed) | late PiXL term, weighted "
        "(labelled / mixed) | drift / joint px (mixed) |",
        "|---|---:|---|---|---:|---|---|---|",
    ]
    for label in labels:
        rows = [store[r.key] for r in runs if r.label == label and r.key in store]
        if not rows:
            continue
        mious = [100 * row["miou"] for row in rows]
        delta = paired(runs, store, label, reference) if reference else "-"
        if label == reference:
            delta = "reference"
        seconds = statistics.fmean(row["seconds"] for row in rows)

        def late(key: str, rows: list[dict] = rows) -> str:
            values = [row["stats"][key] for row in rows if key in row["stats"]]
            return f"{statistics.fmean(values):.3f}" if values else "-"

        # pixl.group joint: one term over the labelled and mixed images, shown in both columns.
        joint_group = any("train/pixl_joint" in row["stats"] for row in rows)
        group = "pixl_joint" if joint_group else "pixl_mixed"
        drift = late(f"{group}/drift_pixels")
        joint = late(f"{group}/joint_pixels")
        pixl_terms = (
            f"{late('train/pixl_joint')} (joint group)"
            if joint_group
            else f"{late('train/pixl_labelled')} / {late('train/pixl_mixed')}"
        )
        lines.append(
            f"| {label} | {mean_std(mious)} | {', '.join(f'{m:.2f}' for m in mious)} | "
            f"{delta} | {seconds:.0f} | {late('train/ce_labelled')} / {late('train/ce_mixed')} | "
            f"{pixl_terms} | {drift} / {joint} |"
        )
    lines.append(
        "\n'late' = mean over the last quarter of the logged steps, over seeds; drift / joint px ="
        " pixels per step of the mixed batch (of both batches in a joint group) at feature"
        " resolution; '-' = term absent. Paired"
        " difference: mIoU minus the reference's with the same seed, in points."
    )
    return "\n".join(lines)


def command(args: argparse.Namespace, part: str) -> str:
    if args.quick:
        return "`.venv/bin/python benchmarks/bench_ablations.py --quick`"
    extra = f" --steps {args.steps}" if args.steps else ""
    extra += " --hrda" if args.hrda and part in ("uda", "features") else ""
    if part == "cost":  # seeds do not apply; the number of timed steps does
        extra += "" if args.cost_repeats == COST_REPEATS else f" --cost-repeats {args.cost_repeats}"
    elif tuple(args.seeds) != SEEDS:
        extra += " --seeds " + " ".join(map(str, args.seeds))
    if (
        part.startswith(("warm", "where"))
        and getattr(args, "stage2_steps", STAGE2_STEPS) != STAGE2_STEPS
    ):
        extra += f" --stage2-steps {args.stage2_steps}"
    return f"`.venv/bin/python benchmarks/bench_ablations.py --part {part}{extra}`"


# The file each part writes under benchmarks/results/ (the others: ablations_PART.md).
RESULT_NAMES = {"where": "where_pixl_helps"}


def result_name(args: argparse.Namespace, part: str) -> str:
    name = RESULT_NAMES.get(part, f"ablations_{part}")
    return name + ("_hrda" if args.hrda and part in ("uda", "features") else "")


def record(
    title: str,
    args: argparse.Namespace,
    part: str,
    body: str,
    seconds: float,
    runs: Sequence[Run] = (),
) -> None:
    how = "alone" if part in ("cost", "features") else f"{args.jobs} runs at a time"
    sitting = f"This sitting took {seconds / 60:.1f} min"
    if runs and getattr(args, "trained", None) == 0:
        how = "rendering only"
        sitting = "Rendered from the stored runs (none trained in this sitting)"
    text = (
        f"Part `{part}` (alone: {command(args, part)}), {how} on {os.cpu_count()} cores."
        f" {sitting}; runs already stored in `benchmarks/ablation_runs.json` are not retrained."
    )
    stored = [load_store().get(r.key) for r in dict.fromkeys(runs)]
    if runs and all(stored):
        # From the store, so a re-rendered file still says what training its runs cost.
        total = sum(row["seconds"] for row in stored) / 60
        text += (
            f" Its {len(stored)} runs took {total:.0f} min of wall time added up ('s per run':"
            " each run's own wall time, on cores shared with the runs trained beside it)."
        )
    if args.quick:
        text += (
            f" Quick mode: one seed, {args.steps} steps, so it checks that the part runs end to"
            " end; a from-scratch model this short may not have learned the digits yet (8.10 % is"
            " background only), so read PiXL's effect in the full sections, not here."
        )
    text += f"\n\n{body}"
    if args.hrda and part in ("uda", "features"):
        title += ", HRDA"  # its own file: the single-resolution one stays
    if args.record and args.quick:  # one file for the sitting, written by bench_ablations.main
        args.quick_sections = [*getattr(args, "quick_sections", []), (title, text)]
    elif args.record:
        results.write_result(result_name(args, part), [(title, text)], title=title)
    print(text)
