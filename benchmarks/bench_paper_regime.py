"""PiXL in the paper's regime: TexScapes (256-px frames, ImageNet EfficientNet-Lite0, PiXL from
step 0), 5 seeds, every row paired by seed with the row that differs only in what it names.

Each part trains a few rows (``pixl train``, one process per run, ``--jobs`` at a time) and fits a
sitting of at most an hour on two cores; finished runs are kept in
``benchmarks/paper_regime_runs.json`` (committed: later sittings, on other machines, add rows and
seeds) with their final target-val row, late-run statistics and the Calinski-Harabasz /
Davies-Bouldin indices of the final student's target-val pixel features (computed as each run
finishes: the run folders themselves are not kept). Every invocation re-renders
``benchmarks/results/pixl_paper_regime.md`` and the "PiXL in the paper's regime" section of
``benchmarks/RESULTS.md`` from the store. Usage::

    .venv/bin/python benchmarks/bench_paper_regime.py --part uda        # baseline vs eq. (17)
    .venv/bin/python benchmarks/bench_paper_regime.py --part switches-a # cell purity, head
    .venv/bin/python benchmarks/bench_paper_regime.py --part switches-b # teacher BN, every pixel
    .venv/bin/python benchmarks/bench_paper_regime.py --part all-switches # the three together
    .venv/bin/python benchmarks/bench_paper_regime.py --part anchors-random # count-matched control
    .venv/bin/python benchmarks/bench_paper_regime.py --part hrda       # Table 5 on HRDA
    .venv/bin/python benchmarks/bench_paper_regime.py --part supervised-eq17 # no head
    .venv/bin/python benchmarks/bench_paper_regime.py --part ssl-eq17   # no head
    .venv/bin/python benchmarks/bench_paper_regime.py --part temperature # T 0.1 on the best row
    .venv/bin/python benchmarks/bench_paper_regime.py --part ssl        # also: supervised, eta, digits
    .venv/bin/python benchmarks/bench_paper_regime.py --part render     # no training
    .venv/bin/python benchmarks/bench_paper_regime.py --quick           # one pair, 60 steps

``--seeds`` picks seeds (default 0-4); a part skips runs already stored. ``--max-runs N`` trains
only the first N runs it would train (in row order, then seed order), so a long part such as
``eta`` (25 HRDA runs) splits into sittings of an hour: rerun the same command until it trains none.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results
from ablations import store as run_store
from ablations.runner import execute
from ablations.store import Run, load_store, save_store
from ablations.tables import describe_deltas, mean_std

BENCH = Path(__file__).resolve().parent
STORE = BENCH / "paper_regime_runs.json"
RESULTS_MD = BENCH / "RESULTS.md"
SECTION_START = "<!-- paper-regime: written by benchmarks/bench_paper_regime.py -->"
SECTION_END = "<!-- /paper-regime -->"
SEEDS = (0, 1, 2, 3, 4)
QUICK_STEPS = 60
FEATURE_IMAGES = 40
ANCHOR_ETA = 0.2  # the paper's eta at the start of training
PER_CLASS = 200


@dataclass(frozen=True)
class Row:
    """A setting of the study: a shipped config plus overrides, and the row it is paired with."""

    label: str
    config: str
    overrides: tuple[str, ...] = ()
    reference: str | None = None
    """The row differing only in what this one names (paired seed by seed); None: a reference."""


BASE = "UDA baseline (self-training + ClassMix + FD), DeepLabV3+"
PIXL = "+ PiXL as eq. (17): drift anchors, weight 1, T 1"
RANDOM_ANCHORS = "random anchors, as many as the drift pixels (count-matched control)"
ROWS = {
    row.label: row
    for row in (
        Row(BASE, "texscapes/uda_baseline"),
        Row(PIXL, "texscapes/uda_pixl", (), BASE),
        Row("PiXL + cell purity 0.75", "texscapes/uda_pixl", ("pixl.cell_purity=0.75",), PIXL),
        Row("PiXL + projection head", "texscapes/uda_pixl", ("pixl.projection=head",), PIXL),
        Row(
            "PiXL + teacher BN on batch statistics",
            "texscapes/uda_pixl",
            ("self_training.teacher_norm=train",),
            PIXL,
        ),
        Row(
            "every pixel an anchor (no joint/drift split)",
            "texscapes/uda_pixl",
            ("pixl.anchors=all",),
            PIXL,
        ),
        # The count-matched control: eq. (17)'s prototypes and anchor count, anchors drawn at
        # random; separates "which anchors" (vs eq. 17) from "how many" (vs every pixel).
        Row(RANDOM_ANCHORS, "texscapes/uda_pixl", ("pixl.anchors=random",), PIXL),
    )
}
# HRDA (DAFormer decoder on the same encoder, context at 0.5, detail crop 0.5): Table 5's rows.
HRDA_BASE = "UDA baseline, HRDA"
HRDA_DRIFT = "HRDA + drift alignment (no adaptive selection)"
HRDA_FULL = "HRDA + drift alignment + adaptive selection (PiXL)"
ROWS.update(
    {
        HRDA_BASE: Row(HRDA_BASE, "texscapes/uda_hrda_baseline"),
        HRDA_DRIFT: Row(
            HRDA_DRIFT, "texscapes/uda_hrda_pixl", ("pixl.adaptive_selection=false",), HRDA_BASE
        ),
        HRDA_FULL: Row(HRDA_FULL, "texscapes/uda_hrda_pixl", (), HRDA_DRIFT),
    }
)
SWITCH_ROWS = (
    "PiXL + cell purity 0.75",
    "PiXL + projection head",
    "PiXL + teacher BN on batch statistics",
)
ALL_SWITCHES = "PiXL + all three switches"
ROWS[ALL_SWITCHES] = Row(
    ALL_SWITCHES,
    "texscapes/uda_pixl",
    tuple(o for label in SWITCH_ROWS for o in ROWS[label].overrides),
    PIXL,
)
# Supervised and SSL pairs with PiXL as eq. (17) itself (no switch): the best-switch rows
# (`--part supervised`, `--part ssl`) change PiXL and the head together; these tell them apart.
SUPERVISED_BASE = "supervised baseline (all photo labels)"
SUPERVISED_EQ17 = "supervised + PiXL as eq. (17) (no switch)"
SSL_BASE = "SSL 1/30 baseline (mean teacher + ClassMix)"
SSL_EQ17 = "SSL 1/30 + PiXL as eq. (17) (no switch)"
ROWS[SUPERVISED_BASE] = Row(SUPERVISED_BASE, "texscapes/oracle")
ROWS[SUPERVISED_EQ17] = Row(SUPERVISED_EQ17, "texscapes/supervised_pixl", (), SUPERVISED_BASE)
ROWS[SSL_BASE] = Row(SSL_BASE, "texscapes/ssl_1_30_baseline")
ROWS[SSL_EQ17] = Row(SSL_EQ17, "texscapes/ssl_1_30_pixl", (), SSL_BASE)
ETAS = (0.1, 0.2, 0.4, 0.6, 0.8)  # Table 6's quantiles (eta_start; eta_end stays 0.001)
PARTS: dict[str, tuple[str, ...]] = {
    "uda": (BASE, PIXL),
    "switches-a": ("PiXL + cell purity 0.75", "PiXL + projection head"),
    "switches-b": (
        "PiXL + teacher BN on batch statistics",
        "every pixel an anchor (no joint/drift split)",
    ),
    "all-switches": (ALL_SWITCHES,),
    "anchors-random": (RANDOM_ANCHORS,),
    "hrda": (HRDA_BASE, HRDA_DRIFT, HRDA_FULL),
    "supervised-eq17": (SUPERVISED_BASE, SUPERVISED_EQ17),
    "ssl-eq17": (SSL_BASE, SSL_EQ17),
}
# Parts whose rows carry the best DeepLabV3+ PiXL row's switches (decided from the store).
BEST_PARTS = ("temperature", "ssl", "supervised", "digits", "eta")
BEST_CANDIDATES = (PIXL, *SWITCH_ROWS, ALL_SWITCHES)


def best_row(steps: int | None) -> Row | None:
    """The PiXL row (eq. 17, a switch alone or all switches) with the highest mean mIoU over the
    study's five seeds, whatever ``--seeds`` a sitting trains; None until every candidate has all
    of them stored (no choice on partial evidence)."""
    means = {}
    for label in BEST_CANDIDATES:
        entries = stored(label, SEEDS, steps)
        if len(entries) < len(SEEDS):
            return None
        means[label] = statistics.fmean(e["miou"] for e in entries.values())
    return ROWS[max(means, key=means.__getitem__)]


def best_rows(best: Row, part: str) -> list[Row]:
    """The rows of a part that needs the best switches: each pair differs only in PiXL."""
    switches = best.overrides
    if part == "temperature":
        return [
            Row(
                f"best ({best.label}), T 0.1",
                best.config,
                (*switches, "pixl.temperature=0.1"),
                best.label,
            )
        ]
    if part == "eta":
        # Table 6 on HRDA with the best switches (pixl.* and self_training.* apply to HRDA too).
        return [
            Row(
                f"HRDA PiXL + best switches, eta {eta}",
                "texscapes/uda_hrda_pixl",
                (*switches, f"pixl.eta_start={eta}"),
                HRDA_BASE,
            )
            for eta in ETAS
        ]
    pairs = {
        "ssl": (SSL_BASE, ROWS[SSL_BASE].config, ROWS[SSL_EQ17].config),
        "supervised": (
            SUPERVISED_BASE,
            ROWS[SUPERVISED_BASE].config,
            ROWS[SUPERVISED_EQ17].config,
        ),
        "digits": (
            "DigitScenes UDA baseline (from scratch)",
            "digits/uda_baseline",
            "digits/uda_pixl",
        ),
    }
    base_label, base_config, pixl_config = pairs[part]
    # teacher_norm is a self-training key: the supervised run has no teacher.
    kept = tuple(
        o for o in switches if not (part == "supervised" and o.startswith("self_training."))
    )
    return [
        Row(base_label, base_config),
        Row(
            f"{base_label.split(' baseline')[0]} + PiXL, best switches",
            pixl_config,
            kept,
            base_label,
        ),
    ]


def display_path(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (as the committed store does),
    else absolute (a ``--store`` or ``--output-dir`` elsewhere)."""
    resolved = path.resolve()
    return (
        str(resolved.relative_to(BENCH.parent))
        if resolved.is_relative_to(BENCH.parent)
        else str(resolved)
    )


def run_of(row: Row, seed: int, steps: int | None) -> Run:
    return Run(row.label, row.config, row.overrides, seed, steps, stage="texscapes")


def stored(label: str, seeds: tuple[int, ...], steps: int | None) -> dict[int, dict]:
    """The stored entries of a row, by seed (seeds not stored are left out)."""
    store = load_store()
    keys = {seed: run_of(ROWS[label], seed, steps).key for seed in seeds}
    return {seed: store[key] for seed, key in keys.items() if key in store}


def runs_of(labels: tuple[str, ...], seeds: tuple[int, ...], steps: int | None) -> list[Run]:
    return [run_of(ROWS[label], seed, steps) for label in labels for seed in seeds]


def add_features(runs: list[Run]) -> None:
    """Store the CH / DB indices of each finished run's final student (target-val pixel features,
    L2-normalised, ``PER_CLASS`` pixels per class from the first ``FEATURE_IMAGES`` images)."""
    import torch
    from torch.utils.data import DataLoader, Subset

    from pixl.config import load_config
    from pixl.data import build_dataset, dataset_info
    from pixl.engine import load_for_inference
    from pixl.visualization.embedding import cluster_indices, collect_pixel_features

    store = load_store()
    for run in runs:
        entry = store.get(run.key)
        if entry is None or "anchors" in entry:
            continue
        weights = Path(entry["run_dir"]) / "final" / "model.safetensors"
        if not weights.is_file():
            print(f"  no CH/DB for {run.label} seed {run.seed}: {weights} is gone")
            continue
        val = load_config(run.config).data.val
        dataset = build_dataset(
            val.kind, val.root, val.split, train=False, crop_size=None, resize=val.resize
        )
        subset = Subset(dataset, range(min(FEATURE_IMAGES, len(dataset))))
        _, model = load_for_inference(weights)
        model.eval()
        with torch.inference_mode():
            sample = collect_pixel_features(
                model,
                DataLoader(subset, batch_size=8),
                num_classes=dataset_info(val.kind, val.root).num_classes,
                per_class=PER_CLASS,
                seed=0,
            )
            anchors = anchor_accuracy(model, DataLoader(subset, batch_size=8), ANCHOR_ETA)
        store = load_store()
        store[run.key]["features"] = cluster_indices(sample)
        store[run.key]["anchors"] = anchors
        save_store(store)


def anchor_accuracy(model: Any, batches: Iterable[dict], eta: float) -> dict[str, float]:
    """How often the final student's class is right on its joint and on its drift cells.

    Per target-val image, the valid feature cells (majority ground-truth label) are split at the
    entropy quantile ``1 - eta`` of the student's own prediction, as PiXL splits them; on target
    images a drift anchor takes its pseudo-label, so the drift accuracy is the share of drift
    anchors PiXL would pull towards the right class's prototype (a proxy: training uses the
    teacher's pseudo-labels on mixed crops, this is the final student on whole frames).
    """
    from pixl.core import labels_to_feature_resolution
    from pixl.core.constants import IGNORE_INDEX
    from pixl.core.entropy import pixel_entropy
    from pixl.core.partition import masked_quantile

    counts = {"joint": [0, 0], "drift": [0, 0]}  # [right, all]
    for batch in batches:
        logits = model(batch["image"]).logits.float()
        classes = logits.shape[1]
        cells = labels_to_feature_resolution(batch["label"], tuple(logits.shape[-2:]), classes)
        probs = logits.softmax(1)
        entropy = pixel_entropy(probs, dim=1).flatten(1)
        valid = (cells != IGNORE_INDEX).flatten(1)
        threshold = masked_quantile(entropy, valid, 1.0 - eta)
        right = (logits.argmax(1) == cells).flatten(1)
        joint = valid & (entropy < threshold[:, None])
        drift = valid & ~joint
        for name, mask in (("joint", joint), ("drift", drift)):
            counts[name][0] += int((right & mask).sum())
            counts[name][1] += int(mask.sum())
    return {f"{k}_accuracy": right / max(total, 1) for k, (right, total) in counts.items()}


def rows_table(labels: list[str], seeds: tuple[int, ...], steps: int | None) -> str:
    lines = [
        "| setting | paired with | mIoU % mean ± std (n) | per seed | paired difference, points "
        "(seeds above) | verdict | CH (higher = more compact) | DB (lower = better) | "
        "accuracy on drift / joint cells % | min per run |",
        "|---|---|---:|---|---|---|---:|---:|---|---:|",
    ]
    for label in labels:
        row = ROWS[label]
        entries = stored(label, seeds, steps)
        if not entries:  # a planned row no sitting has trained yet
            lines.append(f"| {label} | {row.reference or 'reference'} | not run yet |" + " |" * 7)
            continue
        mious = [100 * e["miou"] for e in entries.values()]
        deltas: list[float] = []
        if row.reference is not None:
            reference = stored(row.reference, seeds, steps)
            deltas = [
                100 * (entry["miou"] - reference[seed]["miou"])
                for seed, entry in entries.items()
                if seed in reference
            ]
        ch = [e["features"]["calinski_harabasz"] for e in entries.values() if "features" in e]
        db = [e["features"]["davies_bouldin"] for e in entries.values() if "features" in e]
        drift = [100 * e["anchors"]["drift_accuracy"] for e in entries.values() if "anchors" in e]
        joint = [100 * e["anchors"]["joint_accuracy"] for e in entries.values() if "anchors" in e]
        accuracy = f"{mean_std(drift)} / {mean_std(joint)}" if drift else "-"
        per_seed = ", ".join(f"s{s} {100 * e['miou']:.2f}" for s, e in entries.items())
        minutes = statistics.fmean(e["seconds"] for e in entries.values()) / 60
        lines.append(
            f"| {label} | {row.reference or 'reference'} | {mean_std(mious)} ({len(mious)}) | "
            f"{per_seed} | {describe_deltas(deltas)} | {verdict(deltas, len(seeds))} | "
            f"{mean_std(ch) if ch else '-'} | {mean_std(db) if db else '-'} | {accuracy} | "
            f"{minutes:.1f} |"
        )
    return "\n".join(lines)


def per_class_table(labels: list[str], seeds: tuple[int, ...], steps: int | None) -> str:
    """Per class: the reference's mean IoU, and each row's mean paired IoU difference with its
    reference, in points (seeds where both runs are stored)."""
    rows = []
    for label in labels:
        row = ROWS[label]
        if row.reference is None:
            continue
        entries, reference = stored(label, seeds, steps), stored(row.reference, seeds, steps)
        pairs = [(entry, reference[seed]) for seed, entry in entries.items() if seed in reference]
        if pairs:
            rows.append((label, pairs))
    if not rows:
        return "(no paired runs yet)"
    classes = sorted(rows[0][1][0][1]["per_class"])
    lines = [
        "| setting (n pairs) | " + " | ".join(classes) + " |",
        "|---|" + "---:|" * len(classes),
    ]
    for label, pairs in rows:
        cells = [
            f"{100 * statistics.fmean(a['per_class'][c] - b['per_class'][c] for a, b in pairs):+.1f}"
            for c in classes
        ]
        lines.append(f"| {label} ({len(pairs)}) | " + " | ".join(cells) + " |")
    base = list(stored(BASE, seeds, steps).values())
    if base:
        cells = [f"{100 * statistics.fmean(e['per_class'][c] for e in base):.1f}" for c in classes]
        lines.append(f"| *{BASE}: IoU* ({len(base)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(deltas: list[float], seeds: int) -> str:
    """Higher on at least 4 of 5 seeds (the study's bar; all of them with 3 or 4 seeds), lower on
    as many, or neither; '-' before every seed is in (no verdict on partial evidence) and with
    fewer than 3 seeds."""
    if len(deltas) < seeds or seeds < 3:  # one or two seeds decide nothing
        return "-"
    bar = seeds - 1 if seeds >= 5 else seeds
    above = sum(d > 0 for d in deltas)
    if above >= bar:
        return "**higher**"
    if len(deltas) - above >= bar:
        return "**lower**"
    return "no consistent difference"


def late_stats_table(labels: list[str], seeds: tuple[int, ...], steps: int | None) -> str:
    """What the PiXL term saw late in training: anchors, prototypes, its weighted size vs the CE."""
    keys = (
        ("train/ce_labelled", "CE labelled"),
        ("train/ce_mixed", "CE mixed"),
        ("train/pixl_labelled", "PiXL labelled"),
        ("train/pixl_mixed", "PiXL mixed"),
        ("pixl_labelled/drift_pixels", "drift px (labelled)"),
        ("pixl_mixed/drift_pixels", "drift px (mixed)"),
        ("pixl_mixed/prototypes", "prototypes (mixed)"),
        ("pseudo/weight", "pseudo weight"),
    )
    lines = [
        "| setting | " + " | ".join(name for _, name in keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    for label in labels:
        entries = list(stored(label, seeds, steps).values())
        if not entries:
            continue
        cells = []
        for key, _ in keys:
            values = [e["stats"][key] for e in entries if key in e["stats"]]
            cells.append(f"{statistics.fmean(values):.3f}" if values else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def derived_rows(steps: int | None) -> dict[str, list[Row]]:
    """The rows of the parts that use the best switches, registered in ROWS (none before the
    switch parts are complete)."""
    best = best_row(steps)
    if best is None:
        return {}
    out = {part: best_rows(best, part) for part in BEST_PARTS}
    for rows in out.values():
        ROWS.update({row.label: row for row in rows})
    return out


def part_seeds(part: str, seeds: tuple[int, ...]) -> tuple[int, ...]:
    return seeds[:3] if part == "digits" else seeds  # DigitScenes' rows had 3 seeds


def render(args: argparse.Namespace) -> str:
    derived = derived_rows(args.steps)
    best = best_row(args.steps)
    deeplab = [
        *PARTS["uda"],
        *PARTS["switches-a"],
        *PARTS["switches-b"],
        *PARTS["anchors-random"],
        ALL_SWITCHES,
    ]
    body = (
        "TexScapes synth -> photo, ImageNet EfficientNet-Lite0 (offline package weights), 400 "
        "steps, 192-px crops, batch 4 + 4, PiXL from step 0 (`texscapes/*` configs). Each row "
        "differs from the row it is paired with only in what it names; a paired difference is "
        "this row's mIoU minus that row's with the same seed, and 'seeds above' counts the seeds "
        "where it is positive. CH / DB: the final student's L2-normalised target-val pixel "
        f"features (first {FEATURE_IMAGES} frames, {PER_CLASS} pixels per class; with a "
        "projection head, the head's output, a different space from the other rows'). Accuracy on "
        "drift / joint cells: on the same frames, the cells split per image at the entropy "
        f"quantile 1 - {ANCHOR_ETA} of the final student's own prediction, the share whose "
        "predicted class is the ground truth's (on target a drift anchor is pulled towards the "
        "prototype of its pseudo-label, so this is the share pulled the right way; a proxy: "
        "training uses the teacher on mixed crops).\n\n"
        "### UDA on DeepLabV3+: eq. (17), the lineage switches, every pixel an anchor, random "
        "anchors\n\n"
        + rows_table(deeplab, args.seeds, args.steps)
        + "\n\n### UDA on HRDA (Table 5)\n\n"
        + rows_table(list(PARTS["hrda"]), args.seeds, args.steps)
        + "\n\n### Supervised and SSL 1/30, PiXL as eq. (17) without switches\n\n"
        + rows_table([*PARTS["supervised-eq17"], *PARTS["ssl-eq17"]], args.seeds, args.steps)
    )
    if best is None:
        body += (
            "\n\nThe best PiXL row (highest mean mIoU of eq. (17), each switch alone and all "
            "together, over all seeds) is chosen only when all of those rows are complete; the "
            "temperature, SSL, supervised, eta and DigitScenes rows wait for it."
        )
    else:
        body += f"\n\nBest PiXL row (highest mean mIoU over the seeds, chosen by the script): **{best.label}**."
        for part, rows in derived.items():
            body += f"\n\n### {part} (best switches)\n\n" + rows_table(
                [r.label for r in rows], part_seeds(part, args.seeds), args.steps
            )
    # The per-class and late tables cover every TexScapes row; DigitScenes has its own classes,
    # and its rows are in their part's table above.
    texscapes = [
        *deeplab,
        *PARTS["hrda"],
        SUPERVISED_EQ17,
        SSL_EQ17,
        *(r.label for part, rows in derived.items() if part != "digits" for r in rows),
    ]
    body += (
        "\n\n### Per class: mean paired IoU difference with the reference row, points\n\n"
        + per_class_table(texscapes, args.seeds, args.steps)
    )
    body += (
        "\n\n### Late-run statistics\n\nMean over the last quarter of the logged steps, over "
        "seeds; PiXL terms weighted as added to the loss.\n\n"
        + late_stats_table(texscapes, args.seeds, args.steps)
    )
    return body


def write_results_section(body: str) -> None:
    """Replace the generated section of RESULTS.md (between its markers) with ``body``."""
    text = RESULTS_MD.read_text()
    block = f"{SECTION_START}\n{body}\n{SECTION_END}"
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + block + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## PiXL in the paper's regime\n\n" + block + "\n"
    RESULTS_MD.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=[*PARTS, *BEST_PARTS, "render"], action="append")
    parser.add_argument("--quick", action="store_true", help="one seed, 60 steps, part uda")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at the same time")
    parser.add_argument("--output-dir", default="runs/paper_regime")
    parser.add_argument("--rerun", action="store_true", help="retrain runs already stored")
    parser.add_argument("--store", type=Path, default=STORE, help="where finished runs are kept")
    parser.add_argument(
        "--max-runs", type=int, default=None, help="train at most N runs in this sitting"
    )
    args = parser.parse_args()
    if args.max_runs is not None and args.max_runs < 1:
        parser.error(f"--max-runs must be at least 1, got {args.max_runs}")
    args.seeds = tuple(args.seeds)
    args.steps = None
    parts = args.part or []
    if args.quick:
        args.seeds, args.steps, parts = args.seeds[:1], QUICK_STEPS, ["uda"]
        args.output_dir = str(Path(args.output_dir) / "quick")
        args.store = Path(args.output_dir) / "store.json"  # quick runs never join the study
    if not parts:
        parser.error("choose --part (repeatable) or --quick")
    run_store.STORE = args.store
    from pixl.data.kinds import is_prepared, prepare_dataset

    root = Path("data/texscapes")
    if not is_prepared("texscapes", root):
        prepare_dataset("texscapes", root)
    start = time.perf_counter()
    # Runs of consecutive parts share one pool, so an odd count in one part leaves no core idle;
    # a part on the best row waits for them only when they may decide the best row.
    pending: list[Run] = []

    def flush() -> None:
        if pending:
            execute(pending, args)
            add_features(pending)
            pending.clear()

    for part in parts:
        if part == "render":
            continue
        print(f"== {part}")
        if part in BEST_PARTS:
            rows = derived_rows(args.steps).get(part)
            if rows is None:  # the pending runs may complete the candidates
                flush()
                rows = derived_rows(args.steps).get(part)
            if rows is None:
                parser.error(
                    f"--part {part} needs the best PiXL row: run uda, switches-a, "
                    "switches-b and all-switches on all seeds first"
                )
            labels = tuple(row.label for row in rows)
        else:
            labels = PARTS[part]
        if part == "digits" and not is_prepared("digits", Path("data/digits")):
            prepare_dataset("digits", Path("data/digits"))
        pending += runs_of(labels, part_seeds(part, args.seeds), args.steps)
    flush()
    # Runs stored by an older version of this script, whose folders are still here, get theirs.
    derived_rows(args.steps)
    add_features(runs_of(tuple(ROWS), args.seeds, args.steps))
    minutes = (time.perf_counter() - start) / 60
    body = render(args)
    trained = len(getattr(args, "trained_keys", ()))  # execute() records each run it trains
    store_name = display_path(args.store)
    if trained:
        sitting = (
            f"This sitting ({', '.join(parts)}) trained {trained} runs in {minutes:.1f} min, "
            f"{args.jobs} at a time on {os.cpu_count()} cores"
        )
    else:
        sitting = "Rendered only (no run trained in this invocation)"
    sitting += f"; the tables are rendered from every run stored in `{store_name}`."
    results.write_result(
        "pixl_paper_regime",
        [("PiXL in the paper's regime (TexScapes)", f"{sitting}\n\n{body}")],
        title="PiXL in the paper's regime",
        quick=args.quick,
    )
    if not args.quick:
        write_results_section(body)
    print(body)


if __name__ == "__main__":
    main()
