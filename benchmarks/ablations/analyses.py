"""The parts that read trained runs or time a step instead of training: feature compactness
(CH / DB indices), the gradient balance of PiXL against the CE, and the cost of a PiXL step."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ablations.runs import TEMPERATURES, UDA_BASELINE, uda_runs
from ablations.store import load_store
from ablations.tables import mean_std, record

if TYPE_CHECKING:
    from pixl.config.schema import ExperimentConfig


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
    classes = dataset_info(val.kind, val.root).num_classes
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


def feature_gradients(
    model: Any, batch: dict[str, Any], classes: int, eta: float, temperatures: Sequence[float]
) -> tuple[Any, dict[float, tuple[float, Any]]]:
    """d CE / d features and, per temperature, PiXL's value and d PiXL / d features (weight 1,
    single resolution as in training) of ``model`` on one labelled ``batch``."""
    import torch

    from pixl.core import PiXLLoss, labels_to_feature_resolution
    from pixl.engine.terms import weighted_cross_entropy

    out = model(batch["image"])
    cells = labels_to_feature_resolution(batch["label"], out.features.shape[-2:], classes)
    ce = weighted_cross_entropy(out.logits, batch["label"])
    (ce_grad,) = torch.autograd.grad(ce, out.features, retain_graph=True)
    pixl = {}
    for t in temperatures:
        loss = PiXLLoss(classes, temperature=t)((out.features, out.logits, cells), None, eta)
        (grad,) = torch.autograd.grad(loss.loss, out.features, retain_graph=True)
        pixl[t] = (float(loss.loss.detach()), grad)
    return ce_grad, pixl


def gradient_balance(run_dirs: list[Path], config: ExperimentConfig) -> list[str]:
    """How hard PiXL pulls on the pixel features compared with the CE, per temperature.

    On each final baseline student (no PiXL in its training) and one source batch: the norms of
    d CE / d features and d PiXL / d features (weight 1, eta as on PiXL's first step, single
    resolution as in training), and PiXL's value; mean +/- std over the students.
    """
    from torch.utils.data import default_collate

    from pixl.core import eta_at
    from pixl.data import build_dataset, dataset_info
    from pixl.engine import load_for_inference

    source = config.data.labelled
    data = build_dataset(
        source.kind, source.root, source.split, train=False, crop_size=None, resize=source.resize
    )
    batch = default_collate([data[i] for i in range(config.trainer.batch_size)])
    classes = dataset_info(source.kind, source.root).num_classes
    pixl = config.pixl
    eta = eta_at(pixl.start_step, config.trainer.max_steps, pixl.eta_start, pixl.eta_end)
    ratios: dict[float, list[float]] = {t: [] for t in TEMPERATURES}
    values: dict[float, list[float]] = {t: [] for t in TEMPERATURES}
    for run_dir in run_dirs:
        _, model = load_for_inference(run_dir / "final" / "model.safetensors")
        ce_grad, pixl = feature_gradients(model, batch, classes, eta, TEMPERATURES)
        for t, (value, grad) in pixl.items():
            ratios[t].append(float(grad.norm() / ce_grad.norm()))
            values[t].append(value)
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
    script = Path(__file__).resolve().parents[1] / "cost_step.py"
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
