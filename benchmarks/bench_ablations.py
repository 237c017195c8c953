"""The paper's ablations on DigitScenes, PiXL's feature compactness, and the cost of a PiXL step.

Each part trains the shipped DigitScenes configs (``pixl train``, one process per run, ``--jobs``
at a time) and merges its rows into ``benchmarks/RESULTS.md``; every finished run is also stored in
``benchmarks/ablation_runs.json`` so parts can be run in separate sittings and re-rendered, and a
re-run skips runs already stored (``--rerun`` forces them). Usage::

    .venv/bin/python benchmarks/bench_ablations.py --part uda          # Table 5 on DigitScenes
    .venv/bin/python benchmarks/bench_ablations.py --part ssl          # SSL 1/30
    .venv/bin/python benchmarks/bench_ablations.py --part supervised   # supervised +/- PiXL
    .venv/bin/python benchmarks/bench_ablations.py --part sweeps       # eta and temperature
    .venv/bin/python benchmarks/bench_ablations.py --part features     # CH / DB (after uda)
    .venv/bin/python benchmarks/bench_ablations.py --part cost         # one UDA step +/- PiXL
    .venv/bin/python benchmarks/bench_ablations.py --quick             # all of it, small

Parts: uda, ssl, supervised, sweeps (one seed each: see the seed spread of the uda part to judge
the differences), features (needs the uda part's runs), cost (HRDA MiT-B0, 256 crops, CPU).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import machine_line, write_section

if TYPE_CHECKING:
    from pixl.config.schema import ExperimentConfig

STORE = Path(__file__).resolve().parent / "ablation_runs.json"
SEEDS = (0, 1, 2)
ETAS = (0.1, 0.2, 0.4, 0.6, 0.8)
TEMPERATURES = (0.07, 0.1, 0.5, 1.0)
QUICK_STEPS = 150
COST_REPEATS, QUICK_COST_REPEATS = 10, 4  # timed UDA steps per variant in the cost part
SWEPT = "digits/uda_pixl"  # the sweeps vary PiXL's settings on this config
# The rows the others are paired with, seed by seed.
UDA_BASELINE = "baseline: self-training + ClassMix"
SSL_BASELINE = "baseline: teacher + ClassMix"
SUPERVISED_BASELINE = "supervised (target train, all labels)"
# --hrda: HRDA around the DigitScenes DeepLabV3+ (context at 0.5, detail crop 0.5 of 64 px frames).
HRDA_OVERRIDES = (
    "model.name=hrda",
    "model.options={base: deeplabv3plus, base_options: {encoder: resnet18, encoder_weights: null,"
    " embed_dim: 64}, scale: 0.5, detail_crop: 0.5, attention_dim: 64}",
)  # --quick: one seed, short runs, the sweeps' end points only
QUICK_ETAS = (0.2, 0.8)
QUICK_TEMPERATURES = (0.1, 1.0)
# Logged statistics summarised for each run (mean over the last quarter of the logged steps).
STATS = (
    "train/ce_labelled",
    "train/ce_mixed",
    "train/pixl_labelled",
    "train/pixl_mixed",
    "pseudo/weight",
    "pixl_mixed/joint_pixels",
    "pixl_mixed/drift_pixels",
    "pixl_mixed/prototypes",
    "pixl_labelled/joint_pixels",
    "pixl_labelled/drift_pixels",
    "pixl_labelled/prototypes",
)


@dataclass(frozen=True)
class Run:
    """One training run: a shipped config, extra overrides, a seed."""

    label: str
    config: str
    overrides: tuple[str, ...] = ()
    seed: int = 0
    steps: int | None = None

    @property
    def key(self) -> str:
        parts = [self.config, *self.overrides, f"seed={self.seed}", f"steps={self.steps}"]
        return "|".join(parts)

    @property
    def name(self) -> str:
        """A folder name: the config, a short digest of the overrides, seed and steps."""
        digest = hashlib.sha1("|".join(self.overrides).encode()).hexdigest()[:8]
        tag = f"o{digest}" if self.overrides else ""
        parts = (self.config.replace("/", "_"), tag, f"s{self.seed}", f"n{self.steps}")
        return "_".join(p for p in parts if p)


@dataclass
class Outcome:
    miou: float
    per_class: dict[str, float]
    seconds: float
    steps: int
    run_dir: str
    stats: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)


def load_store() -> dict[str, dict]:
    return json.loads(STORE.read_text()) if STORE.is_file() else {}


def save_store(store: dict[str, dict]) -> None:
    tmp = STORE.with_suffix(".tmp")
    tmp.write_text(json.dumps(store, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, STORE)


def summarise(metrics: Path) -> tuple[dict, dict[str, float], dict[str, list[float]]]:
    """The final val row, late-run means of STATS, and the CE/PiXL curves (every logged step)."""
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    train = [r for r in rows if r["kind"] == "train"]
    val = [r for r in rows if r["kind"] == "val"]
    if not val:
        raise RuntimeError(f"{metrics}: no validation row (did the run finish?)")
    late = train[len(train) * 3 // 4 :] or train
    stats = {
        k: statistics.fmean(r[k] for r in late) for k in STATS if late and all(k in r for r in late)
    }
    curve = {k: [r[k] for r in train if k in r] for k in ("step", *STATS[:4])}
    return val[-1], stats, curve


def scaled_start_steps(run: Run) -> list[str]:
    """With ``--steps``, PiXL and self-training start at the same fraction of the run as shipped."""
    from pixl.config import load_config

    config = load_config(run.config, list(run.overrides))
    total = config.trainer.max_steps
    out = [f"pixl.start_step={config.pixl.start_step * run.steps // total}"]
    if config.task != "supervised":
        start = config.self_training.start_step * run.steps // total
        out.append(f"self_training.start_step={start}")
    return out


def train(run: Run, output_dir: Path, threads: int) -> Outcome:
    overrides = [
        *run.overrides,
        f"trainer.seed={run.seed}",
        f"output_dir={output_dir}",
        f"name={run.name}",
        "trainer.progress_bar=false",
    ]
    if run.steps is not None:
        overrides += [f"trainer.max_steps={run.steps}", *scaled_start_steps(run)]
    cmd = [sys.executable, "-m", "pixl.cli", "train", run.config, *overrides, "--overwrite"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    run_dir = output_dir / run.name
    val, stats, curve = summarise(run_dir / "metrics.jsonl")
    return Outcome(
        miou=val["miou"],
        per_class=val["per_class_iou"],
        seconds=seconds,
        steps=val["step"],
        run_dir=str(run_dir),
        stats=stats,
        curve=curve,
    )


def execute(runs: list[Run], args: argparse.Namespace) -> dict[str, dict]:
    """Train the runs not stored yet (``--jobs`` at a time) and return the store."""
    store = load_store()
    done = getattr(args, "trained_keys", set())  # trained in this sitting: never twice
    todo = list(
        {
            r.key: r for r in runs if r.key not in done and (args.rerun or r.key not in store)
        }.values()
    )
    args.trained = len(todo)  # what record() says this sitting did
    args.trained_keys = done | {r.key for r in todo}
    before = getattr(args, "stored_before", set())  # stored when the sitting began
    reused = [r for r in runs if r.key in before and r.key not in args.trained_keys]
    args.reused = getattr(args, "reused", 0) + len(reused)
    threads = max(1, (os.cpu_count() or 2) // args.jobs)
    print(f"{len(runs)} runs, {len(todo)} to train, {args.jobs} at a time x {threads} threads")

    def one(run: Run) -> tuple[Run, Outcome]:
        outcome = train(run, Path(args.output_dir), threads)
        print(
            f"  {run.label:45s} seed {run.seed}: mIoU {100 * outcome.miou:5.2f} "
            f"({outcome.seconds:.0f} s)",
            flush=True,
        )
        return run, outcome

    with ThreadPoolExecutor(args.jobs) as pool:
        # Store each run as it finishes, so an interrupted part loses only the runs in flight.
        for future in as_completed([pool.submit(one, run) for run in todo]):
            run, outcome = future.result()
            store = load_store()
            store[run.key] = {"label": run.label, **outcome.__dict__}
            save_store(store)
    return load_store()


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def paired(runs: list[Run], store: dict[str, dict], label: str, reference: str) -> str:
    """``label`` minus ``reference`` seed by seed (same seed = same run until their settings
    differ): mean ± std of the differences and how many seeds ``label`` wins."""
    by_seed = {
        name: {
            r.seed: 100 * store[r.key]["miou"] for r in runs if r.label == name and r.key in store
        }
        for name in (label, reference)
    }
    seeds = sorted(by_seed[label].keys() & by_seed[reference].keys())
    if label == reference or not seeds:
        return "-"
    deltas = [by_seed[label][s] - by_seed[reference][s] for s in seeds]
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

        drift = late("pixl_mixed/drift_pixels")
        joint = late("pixl_mixed/joint_pixels")
        lines.append(
            f"| {label} | {mean_std(mious)} | {', '.join(f'{m:.2f}' for m in mious)} | "
            f"{delta} | {seconds:.0f} | {late('train/ce_labelled')} / {late('train/ce_mixed')} | "
            f"{late('train/pixl_labelled')} / {late('train/pixl_mixed')} | "
            f"{drift} / {joint} |"
        )
    lines.append(
        "\n'late' = mean over the last quarter of the logged steps, over seeds; drift / joint px ="
        " pixels per step of the mixed batch at feature resolution; '-' = term absent. Paired"
        " difference: mIoU minus the reference's with the same seed, in points."
    )
    return "\n".join(lines)


def seeds_of(args: argparse.Namespace) -> tuple[int, ...]:
    return tuple(args.seeds)


def uda_runs(args: argparse.Namespace) -> list[Run]:
    """Table 5 on DigitScenes. The DigitScenes model is single-resolution (DeepLabV3+), where
    adaptive selection has nothing to choose between, so drift alignment alone and drift alignment
    + adaptive selection are the same run; ``--hrda`` trains HRDA instead and separates them."""
    hrda = HRDA_OVERRIDES if args.hrda else ()
    settings = [
        ("source-only (no adaptation)", "digits/source_only_baseline", ()),
        (UDA_BASELINE, "digits/uda_baseline", ()),
    ]
    if args.hrda:
        settings.append(
            (
                "+ drift alignment (PiXL, no adaptive selection)",
                "digits/uda_pixl",
                ("pixl.adaptive_selection=false",),
            )
        )
    settings.append(("+ drift alignment + adaptive selection (PiXL)", "digits/uda_pixl", ()))
    return [
        Run(label, config, (*hrda, *overrides), seed, args.steps)
        for label, config, overrides in settings
        for seed in seeds_of(args)
    ]


def ssl_runs(args: argparse.Namespace) -> list[Run]:
    settings = [
        ("labelled 1/30 only", "digits/ssl_1_30_labelled_only"),
        (SSL_BASELINE, "digits/ssl_1_30_baseline"),
        ("+ PiXL", "digits/ssl_1_30_pixl"),
    ]
    return [Run(label, c, (), s, args.steps) for label, c in settings for s in seeds_of(args)]


def supervised_runs(args: argparse.Namespace) -> list[Run]:
    settings = [
        (SUPERVISED_BASELINE, "digits/supervised_baseline"),
        ("supervised + PiXL", "digits/supervised_pixl"),
    ]
    return [Run(label, c, (), s, args.steps) for label, c in settings for s in seeds_of(args)]


def sweep_runs(args: argparse.Namespace) -> tuple[Run, list[Run], list[Run]]:
    """The no-PiXL baseline of the sweeps' seed, the eta points, the temperature points."""
    from pixl.config import load_config

    seed = seeds_of(args)[0]
    etas, temperatures = (QUICK_ETAS, QUICK_TEMPERATURES) if args.quick else (ETAS, TEMPERATURES)
    shipped = load_config(SWEPT).pixl

    def point(label: str, key: str, value: float) -> Run:
        # The shipped value is the UDA part's "+ PiXL" run itself: no override, same stored run.
        if getattr(shipped, key) == value:
            return Run(f"{label} {value} (shipped)", SWEPT, (), seed, args.steps)
        return Run(f"{label} {value}", SWEPT, (f"pixl.{key}={value}",), seed, args.steps)

    baseline = Run(f"no PiXL ({UDA_BASELINE})", "digits/uda_baseline", (), seed, args.steps)
    eta = [point("eta_start", "eta_start", e) for e in etas]
    temperature = [point("temperature", "temperature", t) for t in temperatures]
    return baseline, eta, temperature


def command(args: argparse.Namespace, part: str) -> str:
    if args.quick:
        return "`.venv/bin/python benchmarks/bench_ablations.py --quick`"
    extra = f" --steps {args.steps}" if args.steps else ""
    extra += " --hrda" if args.hrda and part in ("uda", "features") else ""
    if part == "cost":  # seeds do not apply; the number of timed steps does
        extra += "" if args.cost_repeats == COST_REPEATS else f" --cost-repeats {args.cost_repeats}"
    elif tuple(args.seeds) != SEEDS:
        extra += " --seeds " + " ".join(map(str, args.seeds))
    return f"`.venv/bin/python benchmarks/bench_ablations.py --part {part}{extra}`"


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
        f"Command: {command(args, part)} ({machine_line()}; {how} on {os.cpu_count()} cores)."
        f" {sitting}; runs already stored in `benchmarks/ablation_runs.json` are not retrained."
    )
    stored = [load_store().get(r.key) for r in dict.fromkeys(runs)]
    if runs and all(stored):
        # From the store, so a re-rendered section still says what training its runs cost.
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
        title += ", HRDA"  # its own section: the single-resolution one stays
    if args.record:
        write_section(f"{title} (quick)" if args.quick else title, text)
    print(text)


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


def part_features(args: argparse.Namespace) -> None:
    """CH / DB indices of target-val pixel features of the uda part's baseline and PiXL runs."""
    import torch
    from torch.utils.data import DataLoader, Subset

    from pixl.config import load_config
    from pixl.data import build_dataset, dataset_info
    from pixl.engine import load_for_inference
    from pixl.visualization.embedding import cluster_indices, collect_pixel_features

    torch.set_num_threads(os.cpu_count() or 2)
    start = time.perf_counter()
    store = load_store()
    compared = (UDA_BASELINE, "+ drift alignment + adaptive selection (PiXL)")
    runs = [r for r in uda_runs(args) if r.label in compared]
    missing = [r.key for r in runs if r.key not in store]
    if missing:
        raise SystemExit(f"features: run --part uda first (missing {missing[0]})")
    config = load_config("digits/uda_pixl")
    val = config.data.val
    dataset = build_dataset(
        val.kind, val.root, val.split, train=False, crop_size=None, resize=val.resize
    )
    subset = Subset(dataset, range(min(args.feature_images, len(dataset))))
    classes = dataset_info(val.kind).num_classes
    rows: dict[str, list[dict[str, float]]] = {}
    for run in runs:
        weights = Path(store[run.key]["run_dir"]) / "final" / "model.safetensors"
        if not weights.is_file():
            raise SystemExit(f"features: {weights} is gone; rerun --part uda --rerun")
        _, model = load_for_inference(weights)
        sample = collect_pixel_features(
            model,
            DataLoader(subset, batch_size=25),
            num_classes=classes,
            per_class=args.per_class,
            seed=0,
        )
        rows.setdefault(run.label, []).append(cluster_indices(sample))
    lines = [
        f"Target-val pixel features (first {len(subset)} images, {args.per_class} pixels per "
        "class, L2-normalised, stride-4 features of the final student), one model per seed.",
        "",
        "| setting | Calinski-Harabasz (higher = better) | Davies-Bouldin (lower = better) |",
        "|---|---:|---:|",
    ]
    for label, values in rows.items():
        ch = [v["calinski_harabasz"] for v in values]
        db = [v["davies_bouldin"] for v in values]
        lines.append(f"| {label} | {mean_std(ch)} | {mean_std(db)} |")
    baselines = [Path(store[r.key]["run_dir"]) for r in runs if r.label == compared[0]]
    lines += ["", *gradient_balance(baselines, config)]
    record(
        "Feature compactness: CH and DB indices (UDA, DigitScenes)",
        args,
        "features",
        "\n".join(lines),
        time.perf_counter() - start,
    )


def gradient_balance(run_dirs: list[Path], config: ExperimentConfig) -> list[str]:
    """How hard PiXL pulls on the pixel features compared with the CE, per temperature.

    On each final baseline student (no PiXL in its training) and one source batch: the norms of
    d CE / d features and d PiXL / d features (weight 1, eta as on PiXL's first step, single
    resolution as in training), and PiXL's value; mean +/- std over the students.
    """
    import torch
    from torch.utils.data import default_collate

    from pixl.core import PiXLLoss, eta_at, labels_to_feature_resolution
    from pixl.data import build_dataset, dataset_info
    from pixl.engine import load_for_inference
    from pixl.engine.tasks.base import weighted_cross_entropy

    source = config.data.labelled
    data = build_dataset(
        source.kind, source.root, source.split, train=False, crop_size=None, resize=source.resize
    )
    batch = default_collate([data[i] for i in range(config.trainer.batch_size)])
    classes = dataset_info(source.kind).num_classes
    pixl = config.pixl
    eta = eta_at(pixl.start_step, config.trainer.max_steps, pixl.eta_start, pixl.eta_end)
    ratios: dict[float, list[float]] = {t: [] for t in TEMPERATURES}
    values: dict[float, list[float]] = {t: [] for t in TEMPERATURES}
    for run_dir in run_dirs:
        _, model = load_for_inference(run_dir / "final" / "model.safetensors")
        out = model(batch["image"])
        cells = labels_to_feature_resolution(batch["label"], out.features.shape[-2:], classes)
        ce = weighted_cross_entropy(out.logits, batch["label"])
        (ce_grad,) = torch.autograd.grad(ce, out.features, retain_graph=True)
        for t in TEMPERATURES:
            loss = PiXLLoss(classes, temperature=t)((out.features, out.logits, cells), None, eta)
            (grad,) = torch.autograd.grad(loss.loss, out.features, retain_graph=True)
            ratios[t].append(float(grad.norm() / ce_grad.norm()))
            values[t].append(float(loss.loss.detach()))
    lines = [
        f"Gradient balance: on each final baseline student ({len(run_dirs)}) and one source batch"
        f" of {config.trainer.batch_size}, the norm of d PiXL / d features over that of"
        f" d CE / d features (PiXL weight 1, eta {eta:.3f} as on PiXL's first step, step"
        f" {pixl.start_step}); the shipped weight {pixl.weight} scales the ratio by {pixl.weight}."
        " An InfoNCE gradient on unit features grows as 1 / temperature, and it falls on the drift"
        " pixels only while the CE's is spread over every pixel.",
        "",
        "| temperature | PiXL loss (weight 1) | gradient norm ratio PiXL / CE (weight 1) |",
        "|---:|---:|---:|",
    ]
    for t in TEMPERATURES:
        lines.append(f"| {t} | {mean_std(values[t])} | {mean_std(ratios[t])} |")
    return lines


def cost_child(extra_args: list[str], extra_env: dict[str, str]) -> dict:
    script = Path(__file__).with_name("cost_step.py")
    threads = str(os.cpu_count() or 2)
    env = dict(os.environ, OMP_NUM_THREADS=threads, HF_HUB_OFFLINE="1", **extra_env)
    out = subprocess.run(
        [sys.executable, str(script), *extra_args], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_cost(args: argparse.Namespace) -> None:
    """Time and peak memory of one UDA training step with and without PiXL, side by side."""
    import torch

    torch.set_num_threads(os.cpu_count() or 2)  # as the children run: the machine line says so
    start = time.perf_counter()
    timed = cost_child(["--measure", "time", "--repeats", str(args.cost_repeats)], {})
    memory = {
        pixl: cost_child(
            ["--measure", "memory", "--pixl", pixl], {"MALLOC_MMAP_THRESHOLD_": "65536"}
        )["peak_extra_mb"]
        for pixl in ("false", "true")
    }
    without = statistics.median(timed["without_s"])
    with_pixl = statistics.median(timed["with_s"])
    # Steps ran in ABBA order: the ratio of each pair is free of slow drifts of the machine.
    ratios = [w / b for w, b in zip(timed["with_s"], timed["without_s"], strict=True)]
    ratio_q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    lines = [
        "One UDA training step (student on source + mixed batch, teacher pseudo-labels, ClassMix,"
        " backward, AdamW step, EMA update) of HRDA with an MiT-B0 encoder (DAFormer head,"
        " embedding 256) on DigitScenes scenes resized to 256x256, batch 2 + 2, 11 classes, CPU."
        f" Time: one process, one model; the tasks with and without PiXL take turns (ABBA order),"
        f" {args.cost_repeats} timed steps each after a warm-up step each (default allocator)."
        " Peak memory: VmHWM above the RSS before one step, one process per variant, glibc's mmap"
        " threshold at 64 KiB so freed tensors leave the RSS.",
        "",
        "| variant | step median (s) | x without | peak extra memory (MiB) | x without |",
        "|---|---:|---:|---:|---:|",
        f"| without PiXL | {without:.2f} | 1.000 | {memory['false']:.0f} | 1.000 |",
        f"| with PiXL | {with_pixl:.2f} | {with_pixl / without:.3f} | {memory['true']:.0f} | "
        f"{memory['true'] / memory['false']:.3f} |",
        "",
        f"Paired ratio with / without PiXL over the {len(ratios)} ABBA pairs: median "
        f"{ratio_q[1]:.3f} (quartiles {ratio_q[0]:.3f} - {ratio_q[2]:.3f}). Time inside the two PiXL"
        f" terms' forward (entropy split, label pooling, prototypes, contrast): "
        f"{1000 * timed['pixl_forward_s']:.0f} ms per step.",
        "",
        f"PiXL overhead: {100 * (ratio_q[1] - 1):+.1f} % time (paired median), "
        f"{100 * (memory['true'] / memory['false'] - 1):+.1f} % peak memory "
        "(target: at most +10 % each).",
    ]
    record(
        "Cost of a PiXL step (UDA, HRDA MiT-B0, 256 crops, CPU)",
        args,
        "cost",
        "\n".join(lines),
        time.perf_counter() - start,
    )


PARTS = {
    "uda": part_uda,
    "ssl": part_ssl,
    "supervised": part_supervised,
    "sweeps": part_sweeps,
    "features": part_features,
    "cost": part_cost,
}


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
        "--no-record", dest="record", action="store_false", help="print only; leave RESULTS.md"
    )
    parser.add_argument("--store", type=Path, help="where finished runs are kept")
    args = parser.parse_args()
    global STORE  # one store per invocation
    STORE = args.store or STORE
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // args.jobs))  # as each run gets
    parts = args.part or []
    if args.quick:
        args.seeds, args.steps = args.seeds[:1], args.steps or QUICK_STEPS
        args.output_dir = str(Path(args.output_dir) / "quick")
        parts = parts or list(PARTS)
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
    # Only a sitting that trained every run measures how long --quick takes.
    if args.quick and args.record and len(minutes) == len(PARTS) and not args.reused:
        per_part = ", ".join(f"{part} {m:.1f}" for part, m in minutes.items())
        write_section(
            "Quick mode: how long it took",
            f"`.venv/bin/python benchmarks/bench_ablations.py --quick` ({machine_line()}): "
            f"{sum(minutes.values()):.1f} min in all (per part, min: {per_part}); the budget is "
            "15 min. Written only by a sitting that trained all its runs (a first run, or "
            "`--rerun`).",
        )


if __name__ == "__main__":
    main()
