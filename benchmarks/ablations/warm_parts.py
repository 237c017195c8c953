"""The parts of the warm-start study (``--part warm-uda`` ... ``--part where``) and the
"Where PiXL helps" result (``benchmarks/results/where_pixl_helps.md``), rendered from the stored
runs."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from ablations.mechanism import mechanism
from ablations.runner import execute
from ablations.store import Run, load_store, save_store
from ablations.tables import describe_deltas, mean_std, paired, paired_deltas, record, table
from ablations.warm import (
    LONG_STAGE2_STEPS,
    STAGE2_EVAL_EVERY,
    STRENGTHS,
    WARM_HRDA_BASELINE,
    WARM_SSL_BASELINE,
    WARM_SUPERVISED_BASELINE,
    WARM_UDA_BASELINE,
    WARM_UDA_LONG_BASELINE,
    best_strength,
    hrda_runs,
    long_runs,
    scratch_runs,
    ssl_supervised_runs,
    stage1_runs,
    strength_label,
    switch_runs,
    warm_uda_runs,
)

SOURCE_ONLY, LABELLED_ONLY = "digits/source_only_baseline", "digits/ssl_1_30_labelled_only"


def _train(stage1: list[Run], stage2: list[Run], args: argparse.Namespace) -> dict[str, dict]:
    """Stage 1 first (stage 2 starts from its weights), then stage 2."""
    execute(stage1, args)
    trained = args.trained
    store = execute(stage2, args)
    args.trained += trained
    return store


def _best(args: argparse.Namespace) -> tuple[float, float]:
    return best_strength(warm_uda_runs(args), load_store())


def part_warm_uda(args: argparse.Namespace) -> None:
    _train(stage1_runs(args, SOURCE_ONLY), warm_uda_runs(args), args)


def part_warm_switches(args: argparse.Namespace) -> None:
    _train(stage1_runs(args, SOURCE_ONLY), switch_runs(args, _best(args)), args)


def part_warm_long(args: argparse.Namespace) -> None:
    _train(stage1_runs(args, SOURCE_ONLY), long_runs(args, _best(args)), args)


def part_warm_ssl_supervised(args: argparse.Namespace) -> None:
    first = stage1_runs(args, LABELLED_ONLY) + stage1_runs(args, SOURCE_ONLY)
    _train(first, ssl_supervised_runs(args, _best(args)), args)


def part_warm_hrda(args: argparse.Namespace) -> None:
    _train(stage1_runs(args, SOURCE_ONLY, hrda=True), hrda_runs(args, _best(args)), args)


def part_scratch_best(args: argparse.Namespace) -> None:
    execute(scratch_runs(args, _best(args)), args)


def feature_indices(run: Run, store: dict[str, dict], args: argparse.Namespace) -> dict | None:
    """CH / DB of the run's final target-val pixel features, computed once and kept in the store."""
    row = store.get(run.key)
    if row is None:
        return None
    if "features" not in row:
        from torch.utils.data import DataLoader, Subset

        from pixl.data import build_dataset, dataset_info
        from pixl.engine import load_for_inference
        from pixl.visualization.embedding import cluster_indices, collect_pixel_features

        weights = Path(row["run_dir"]) / "final" / "model.safetensors"
        if not weights.is_file():
            return None
        config, model = load_for_inference(weights)
        val = config.data.val
        dataset = build_dataset(
            val.kind, val.root, val.split, train=False, crop_size=None, resize=val.resize
        )
        subset = Subset(dataset, range(min(args.feature_images, len(dataset))))
        sample = collect_pixel_features(
            model,
            DataLoader(subset, batch_size=25),
            num_classes=dataset_info(val.kind, val.root).num_classes,
            per_class=args.per_class,
            seed=0,
        )
        row["features"] = cluster_indices(sample)
        fresh = load_store()
        fresh[run.key] = row
        save_store(fresh)
    return row["features"]


def compactness(runs: list[Run], store: dict[str, dict], args: argparse.Namespace) -> str:
    lines = [
        "| setting | Calinski-Harabasz (higher = better) | Davies-Bouldin (lower = better) |",
        "|---|---:|---:|",
    ]
    for label in dict.fromkeys(r.label for r in runs):
        values = [feature_indices(r, store, args) for r in runs if r.label == label]
        values = [v for v in values if v is not None]
        if values:
            ch = mean_std([v["calinski_harabasz"] for v in values])
            db = mean_std([v["davies_bouldin"] for v in values])
            lines.append(f"| {label} | {ch} | {db} |")
    return "\n".join(lines)


def curve(runs: list[Run], store: dict[str, dict], label: str) -> str:
    """Target-val mIoU of ``label``'s runs at each evaluation (does stage 2 converge?)."""
    rows = [(r.seed, store[r.key]["curve"]) for r in runs if r.label == label and r.key in store]
    rows = [(seed, c) for seed, c in rows if "val_step" in c]
    if not rows:
        return ""
    steps = rows[0][1]["val_step"]
    head = "| seed | " + " | ".join(f"step {s}" for s in steps) + " |"
    lines = [head, "|---|" + "---:|" * len(steps)]
    for seed, c in rows:
        lines.append(f"| {seed} | " + " | ".join(f"{100 * m:.2f}" for m in c["val_miou"]) + " |")
    return "\n".join(lines)


def difference_curve(runs: list[Run], store: dict[str, dict], reference: str) -> str:
    """Per evaluation: the baseline's mean target-val mIoU and each other setting's paired
    difference with it (does the difference shrink as the baseline converges?)."""
    by_label: dict[str, dict[int, dict]] = {}
    for r in runs:
        if r.key in store and "val_step" in store[r.key]["curve"]:
            by_label.setdefault(r.label, {})[r.seed] = store[r.key]["curve"]
    base = by_label.get(reference, {})
    others = [label for label in by_label if label != reference]
    if not base or not others:
        return ""
    steps = next(iter(base.values()))["val_step"]
    lines = [
        "| step | baseline mIoU % (mean) | "
        + " | ".join(f"{label}: paired difference" for label in others)
        + " |",
        "|---:|---:|" + "---|" * len(others),
    ]
    for i, step in enumerate(steps):
        cells = []
        for label in others:
            seeds = sorted(base.keys() & by_label[label].keys())
            deltas = [
                100 * (by_label[label][s]["val_miou"][i] - base[s]["val_miou"][i]) for s in seeds
            ]
            cells.append(describe_deltas(deltas))
        mean = statistics.fmean(100 * c["val_miou"][i] for c in base.values())
        lines.append(f"| {step} | {mean:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def wins_everywhere(runs: list[Run], store: dict[str, dict], reference: str) -> list[str]:
    """The settings above ``reference`` on every paired seed, with their mean gain."""
    out = []
    for label in dict.fromkeys(r.label for r in runs if r.label != reference):
        deltas = paired_deltas(runs, store, label, reference)
        if len(deltas) >= 3 and all(d > 0 for d in deltas):
            out.append(f"{label}: {paired(runs, store, label, reference)}")
    return out


def part_where(args: argparse.Namespace) -> None:
    """Render "Where PiXL helps" from every stored run of the study (trains nothing)."""
    start = time.perf_counter()
    store = load_store()
    firsts = [
        *stage1_runs(args, SOURCE_ONLY),
        *stage1_runs(args, LABELLED_ONLY),
        *stage1_runs(args, SOURCE_ONLY, hrda=True),
    ]
    uda = warm_uda_runs(args)
    groups: list[tuple[str, list[Run], str]] = [
        ("Stage 1 (the from-scratch models stage 2 starts from)", firsts, ""),
        ("Warm UDA: PiXL strength (temperature, weight)", uda, WARM_UDA_BASELINE),
    ]
    have_uda = all(
        any(r.key in store and r.label == lab for r in uda)
        for lab in [WARM_UDA_BASELINE] + [strength_label(t, w) for t, w in STRENGTHS]
    )
    if have_uda:
        best = best_strength(uda, store)
        base = [r for r in uda if r.label == WARM_UDA_BASELINE]
        strongest = [r for r in uda if r.label == strength_label(*best)]
        groups += [
            (
                "Warm UDA: the open choices, on the best strength",
                base + strongest + switch_runs(args, best),
                WARM_UDA_BASELINE,
            ),
        ]
        groups.append(
            (
                f"Warm UDA: a stage 2 of {LONG_STAGE2_STEPS} steps, on the best strength",
                long_runs(args, best),
                WARM_UDA_LONG_BASELINE,
            )
        )
        sss = ssl_supervised_runs(args, best)
        groups += [
            ("Warm SSL 1/30", [r for r in sss if "SSL" in r.label], WARM_SSL_BASELINE),
            (
                "Warm supervised",
                [r for r in sss if "supervised" in r.label],
                WARM_SUPERVISED_BASELINE,
            ),
            ("Warm HRDA UDA (Table 5 rows)", hrda_runs(args, best), WARM_HRDA_BASELINE),
        ]
        scratch = scratch_runs(args, best)
        for kind in ("UDA", "SSL", "supervised"):
            rows = [r for r in scratch if f"scratch {kind}" in r.label]
            groups.append(
                (
                    f"From scratch: {kind}, shipped and best strength",
                    rows,
                    f"scratch {kind} baseline",
                )
            )
    lines = [
        "Written by `benchmarks/bench_ablations.py --part where` from the stored runs of the"
        " warm-start study (parts `warm-uda`, `warm-switches`, `warm-long`,"
        " `warm-ssl-supervised`, `warm-hrda`, `scratch-best`). Stage 1: the shipped from-scratch"
        " model of the same seed (source-only for UDA and supervised, labelled-only for SSL), 750"
        " steps. Stage 2: `model.init_from` the stage-1 weights, self-training and PiXL from step 0"
        f" (eta 0.2 -> 0.001), {args.stage2_steps} steps ({LONG_STAGE2_STEPS} in `warm-long`),"
        f" target val every {STAGE2_EVAL_EVERY} steps. Every PiXL row is"
        " paired seed by seed with the baseline of its table (same stage-1 weights and seed, no"
        " PiXL).",
    ]
    answer: list[str] = []
    for title, runs, reference in groups:
        present = [r for r in runs if r.key in store]
        if not present:
            lines += ["", f"### {title}", "", "Not run yet."]
            continue
        lines += ["", f"### {title}", "", table(runs, store, reference or None)]
        if reference:
            lines += ["", compactness(runs, store, args)]
            answer += wins_everywhere(runs, store, reference)
            trend = curve(runs, store, reference)
            if trend:
                lines += ["", f"Target-val mIoU % of the baseline ({reference}) during stage 2:",
                          "", trend]  # fmt: skip
            if reference == WARM_UDA_LONG_BASELINE:
                gaps = difference_curve(runs, store, reference)
                if gaps:
                    lines += ["", "The paired difference at each evaluation:", "", gaps]
    first_dirs = [
        Path(store[r.key]["run_dir"])
        for r in firsts
        if r.key in store and SOURCE_ONLY in r.key and not r.overrides  # DeepLabV3+ ones
    ]
    if first_dirs:
        lines += ["", "### Mechanism: PiXL's pull where stage 2 starts", "", *mechanism(first_dirs)]
    lines += [
        "",
        "Settings where PiXL is above its baseline on every paired seed (at least 3): "
        + ("; ".join(answer) if answer else "none")
        + ".",
    ]
    elapsed = time.perf_counter() - start
    args.trained = 0
    record("Where PiXL helps", args, "where", "\n".join(lines), elapsed)


WARM_PARTS = {
    "warm-uda": part_warm_uda,
    "warm-switches": part_warm_switches,
    "warm-long": part_warm_long,
    "warm-ssl-supervised": part_warm_ssl_supervised,
    "warm-hrda": part_warm_hrda,
    "scratch-best": part_scratch_best,
    "where": part_where,
}
