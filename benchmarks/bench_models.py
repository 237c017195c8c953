"""Model benchmark: one training step (forward + backward) of HRDA(MiT-B0) and DeepLabV3+(ResNet-101)
on CPU at a 512x512 crop, batch 2.

Run: ``OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_models.py [--runs 3]``
Each model is measured in its own child process so that its peak memory is its own: the peak is
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak resident set size) at the end, and the figure
reported is that peak minus the resident size after building the model and the inputs (VmRSS), i.e.
the activations, gradients and workspace of a step. Time: median of ``--runs`` steps after one
warm-up step. Random init (no download). Prints a Markdown table and writes it to
``benchmarks/results/models.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import results
from pixl.models import HRDA, Box, create_model

MODELS = {
    "HRDA (MiT-B0, DAFormer head)": ("hrda", {"base_options": {"encoder": "mit_b0"}}),
    "DeepLabV3+ (ResNet-101)": ("deeplabv3plus", {"encoder": "resnet101"}),
}
CROP, BATCH, NUM_CLASSES = 512, 2, 19


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def training_step(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> None:
    """The loss each model trains with: HRDA's CE(fused) + 0.1 CE(detail), else CE(logits)."""
    small = labels[:, ::4, ::4]  # labels at the stride-4 logits grid
    if isinstance(model, HRDA):  # a fixed detail box: every run times the same pass
        box = Box(CROP // 4, CROP // 4, CROP // 2, CROP // 2)
        out = model.forward_box(images, box)
        detail_labels = small[:, box.top // 4 : (box.top + box.height) // 4,
                                 box.left // 4 : (box.left + box.width) // 4]  # fmt: skip
        loss = F.cross_entropy(out.fused_logits, small)
        loss = loss + 0.1 * F.cross_entropy(out.detail.logits, detail_labels)
    else:
        loss = F.cross_entropy(model(images).logits, small)
    model.zero_grad(set_to_none=True)
    loss.backward()


def measure(title: str, runs: int) -> dict:
    name, options = MODELS[title]
    torch.manual_seed(0)
    model = create_model(name, NUM_CLASSES, **options).train()
    images = torch.randn(BATCH, 3, CROP, CROP)
    labels = torch.randint(NUM_CLASSES, (BATCH, CROP, CROP))
    base = rss_mib()
    training_step(model, images, labels)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        training_step(model, images, labels)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "model": title,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "peak_step_mib": peak - base,
        "peak_rss_mib": peak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", choices=sorted(MODELS), help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only, write no file")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.runs)))
        return 0
    rows = []
    for title in MODELS:
        child = [sys.executable, __file__, "--one", title, "--runs", str(args.runs)]
        done = subprocess.run(child, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    table = [
        "| model | params (M) | step median (s) | step min (s) | step peak mem (MiB) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    table += [
        f"| {r['model']} | {r['params_m']:.1f} | {r['median_s']:.2f} | {r['min_s']:.2f} | "
        f"{r['peak_step_mib']:.0f} | {r['peak_rss_mib']:.0f} |"
        for r in rows
    ]
    print("\n".join(table))
    if not args.no_write:
        body = (
            f"Forward + backward of one training step on CPU, {CROP}x{CROP} crop, batch {BATCH}, "
            f"{NUM_CLASSES} classes, random init; median of {args.runs} steps after a warm-up.\n"
            "HRDA: context = whole crop at 0.5, detail = 256x256 box at full resolution, loss "
            "CE(fused) + 0.1 CE(detail). Step peak mem = peak RSS (getrusage ru_maxrss) minus the RSS "
            "after building model and inputs, each model in its own process; CPU only.\n"
            f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (compare"
            " the two rows; absolute seconds move with the load).\n\n" + "\n".join(table)
        )
        results.write_result(
            "models", [("Training step on CPU", body)], title="Models: training step on CPU"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
