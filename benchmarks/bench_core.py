"""Speed and peak extra memory of ``pixl_loss`` forward+backward at the paper's scale.

2 images, 256-d features, 19 classes, low and high resolution 128x128 each (65,536 pixels), side by
side with (a) the floor every prototype-contrast loss pays (normalise, one 19x256 matmul, logsumexp,
backward) and (b) a straightforward per-class-loop implementation. Each variant runs in its own
subprocess so its peak memory (VmHWM, reset with /proc/self/clear_refs) is its own. Memory is
measured in a second child with glibc's mmap threshold pinned low (freed blocks go back to the OS,
so VmHWM tracks live tensors); times come from a child with the default allocator, since forcing
mmap makes every allocation page-fault and would slow all variants alike.

    python benchmarks/bench_core.py [--device cpu|cuda] [--repeats 15] [--threads 2]

Writes ``benchmarks/results/core_DEVICE.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results

BATCH, DIM, CLASSES, SIZE = 2, 256, 19, 128
ETA, TEMPERATURE, IGNORE = 0.2, 0.1, 255


def make_inputs(device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)

    def resolution():
        features = torch.randn(BATCH, DIM, SIZE, SIZE, generator=g).to(device).requires_grad_()
        logits = (3 * torch.randn(BATCH, CLASSES, SIZE, SIZE, generator=g)).to(device)
        labels = torch.randint(0, CLASSES, (BATCH, SIZE, SIZE), generator=g)
        labels[torch.rand(BATCH, SIZE, SIZE, generator=g) < 0.1] = IGNORE
        return features, logits, labels.to(device)

    return resolution(), resolution()


def floor_loss(low, high):
    """The unavoidable part: normalise, one matmul against 19 class vectors, logsumexp."""
    weight = F.normalize(torch.ones(CLASSES, DIM, device=low[0].device), dim=1)
    total = 0
    for features, _, _ in (low, high):
        flat = F.normalize(features.reshape(BATCH, DIM, -1), dim=1)
        total = (
            total
            + torch.logsumexp(torch.einsum("bdn,cd->bcn", flat, weight) / TEMPERATURE, 1).mean()
        )
    return total


def loop_loss(low, high):
    """A straightforward implementation: loops over images and classes, boolean indexing."""
    feats, ents, labels, is_high = [], [], [], []
    for flag, (features, logits, lab) in enumerate((low, high)):
        feats.append(F.normalize(features.permute(0, 2, 3, 1).reshape(BATCH, -1, DIM), dim=2))
        probs = torch.softmax(logits.detach(), 1).permute(0, 2, 3, 1).reshape(BATCH, -1, CLASSES)
        ents.append(-(probs * torch.log(probs.clamp_min(1e-30))).sum(-1))
        labels.append(lab.reshape(BATCH, -1))
        is_high.append(torch.full_like(labels[-1], flag, dtype=torch.bool))
    f, h, y, hi = (torch.cat(x, 1) for x in (feats, ents, labels, is_high))
    joint, drift = torch.zeros_like(y, dtype=torch.bool), torch.zeros_like(y, dtype=torch.bool)
    for b in range(BATCH):
        valid = y[b] != IGNORE
        t = torch.quantile(h[b][valid], 1 - ETA)
        joint[b], drift[b] = valid & (h[b] < t), valid & (h[b] >= t)
    protos, n_low, n_high = {}, {}, {}
    for c in range(CLASSES):
        for res, counts in ((False, n_low), (True, n_high)):
            sel = joint & (y == c) & (hi == res)
            counts[c] = int(sel.sum())
            if counts[c]:
                protos[(c, res)] = F.normalize(f.detach()[sel].mean(0), dim=0)
    present_low = sorted(v for v in n_low.values() if v > 0)
    m = statistics.median(present_low) if present_low else float("inf")
    chosen = {}
    for c in range(CLASSES):
        if n_low[c] >= m or n_high[c] < n_low[c]:
            chosen[c] = protos[(c, False)]
        elif n_high[c] > 0:
            chosen[c] = protos[(c, True)]
    classes = sorted(chosen)
    matrix = torch.stack([chosen[c] for c in classes])
    losses = []
    for i, c in enumerate(classes):
        anchors = f[drift & (y == c)]
        if len(anchors):
            logits = anchors @ matrix.T / TEMPERATURE
            losses.append(torch.logsumexp(logits, 1) - logits[:, i])
    return torch.cat(losses).mean()


def pixl_variant(low, high):
    from pixl.core import pixl_loss

    return pixl_loss(low, high, num_classes=CLASSES, eta=ETA, temperature=TEMPERATURE)


VARIANTS = {"floor": floor_loss, "pixl_loss": pixl_variant, "per_class_loop": loop_loss}


def _rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(variant: str, device: str, repeats: int) -> dict[str, float]:
    """Run in a child process: median time of forward+backward and the peak extra memory.

    ``repeats == 0`` measures memory only (the time entry is then meaningless)."""
    fn = VARIANTS[variant]
    low, high = make_inputs(device)

    def step():
        loss = fn(low, high)
        loss.backward()
        low[0].grad = high[0].grad = None

    step()  # warm-up: lazy initialisation stays out of the figures
    times = []
    for _ in range(max(repeats, 1)):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        base = _rss("VmRSS:")
        step()
        peak = _rss("VmHWM:") - base
    return {"median_ms": 1000 * statistics.median(times), "peak_extra_mb": peak / 2**20}


def run_child(variant: str, device: str, repeats: int, threads: int) -> dict[str, float]:
    """Time in one child (default allocator), memory in another (low mmap threshold)."""
    timed = _child(variant, device, repeats, threads, {})
    memory = _child(variant, device, 0, threads, {"MALLOC_MMAP_THRESHOLD_": "65536"})
    return {"median_ms": timed["median_ms"], "peak_extra_mb": memory["peak_extra_mb"]}


def _child(variant: str, device: str, repeats: int, threads: int, extra_env: dict[str, str]):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **extra_env)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--device",
        device,
        "--repeats",
        str(repeats),
        "--threads",
        str(threads),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--no-record", action="store_true", help="print only; write no file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(measure(args.child, args.device, args.repeats)))
        return
    rows = {name: run_child(name, args.device, args.repeats, args.threads) for name in VARIANTS}
    floor = rows["floor"]
    lines = [
        "| variant | fwd+bwd median (ms) | x floor | peak extra memory (MiB) | x floor |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['median_ms']:.1f} | {row['median_ms'] / floor['median_ms']:.2f} | "
            f"{row['peak_extra_mb']:.1f} | {row['peak_extra_mb'] / floor['peak_extra_mb']:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    if not args.no_record:
        body = (
            f"{BATCH} images, {DIM}-d, {CLASSES} classes, low+high {SIZE}x{SIZE} "
            f"({2 * BATCH * SIZE * SIZE} pixels); {args.threads} threads, {args.repeats} repeats "
            f"on {args.device}.\n\n{table}\n\n"
            "Target: pixl_loss at most 1.5x the floor in time and memory."
        )
        results.write_result(
            f"core_{args.device}",
            [(f"pixl_loss at paper scale ({args.device})", body)],
            title=f"Core: pixl_loss at paper scale ({args.device})",
        )


if __name__ == "__main__":
    main()
