"""Paper-scale memory of one UDA step, and the engine's step time against the model's own step.

Run: ``OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_memory.py [--part memory|time|all]``

1. ``memory``: one UDA step (task losses, backward, AdamW step) of the paper's config
   ``uda/gta5_to_cityscapes_hrda_pixl`` (HRDA, MiT-B5, 1024x1024 crops) at batch 1 + 1, fp32 on
   the CPU, random init (``encoder_weights: null``; memory does not depend on the values, and the
   feature distance, which needs ImageNet weights, is off). Each order runs once, alone in its own
   child process: ``single`` (one backward of the summed loss, both graphs alive together) and
   ``staged`` (the trainer's order: the source terms backpropagated before the mixed pass).
   Figure: peak RSS (``ru_maxrss``) minus the RSS with model, teacher, task and batch loaded.
   Large blocks are mmap'd (``MALLOC_MMAP_THRESHOLD_``) so freed activations leave the RSS.
2. ``time``: the supervised and UDA DigitScenes configs (``digits/supervised_pixl``,
   ``digits/uda_pixl`` at a step where self-training and PiXL are on): the engine's step
   (stages, backward, AdamW, EMA) against the model's own forward + backward + AdamW step on the
   same images (UDA: one pass on the labelled and one on the unlabelled batch, as the task makes),
   in one process taking turns; best of the rounds.
Writes the "Memory of a paper-scale UDA step" and "Step time: engine against the model's own
step" sections of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pixl.config import load_config, packaged_config
from pixl.engine.build import build_model, build_task
from pixl.engine.optim import build_optimizer
from pixl.engine.tasks import TrainBatch
from pixl.engine.teacher import EMATeacher
from pixl.models import param_groups
from results import machine_line, write_section

PAPER = "uda/gta5_to_cityscapes_hrda_pixl"
GIB = 1024**3


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def fake_batch(config: Any, labelled: int, unlabelled: int, seed: int = 0) -> TrainBatch:
    """Random images and blocky labels at the config's crop sizes (labels: 19 or its classes)."""
    g = torch.Generator().manual_seed(seed)
    height, width = config.data.labelled.crop_size or (64, 64)
    classes = 19 if config.data.labelled.kind != "digits" else 11
    blocks = torch.randint(0, classes, (labelled, height // 32, width // 32), generator=g)
    labels = blocks.repeat_interleave(32, 1).repeat_interleave(32, 2)
    batch = TrainBatch(
        labelled={"image": torch.randn(labelled, 3, height, width, generator=g), "label": labels}
    )
    if config.task != "supervised":
        batch.unlabelled = {
            "image": torch.randn(unlabelled, 3, height, width, generator=g),
            "frame_box": torch.tensor([[0, 512, 1024, 2048, 0]] * unlabelled),
        }
    return batch


def setup(config: Any) -> tuple[torch.nn.Module, Any, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = build_model(config).train()
    teacher = (
        EMATeacher(model, config.self_training.ema_alpha) if config.task != "supervised" else None
    )
    task = build_task(
        config,
        model=model,
        raw_model=model,
        generator=torch.Generator().manual_seed(0),
        teacher=teacher,
        feature_distance=None,
    )
    groups = param_groups(
        model, lr=config.optim.lr, weight_decay=config.optim.weight_decay,
        head_lr_mult=config.optim.head_lr_mult,
    )  # fmt: skip
    return model, task, build_optimizer(groups, config.optim)


def engine_step(task: Any, optimizer: Any, batch: TrainBatch, step: int, staged: bool) -> None:
    if staged:
        for stage in task.training_stages(batch, step=step):
            stage.loss.backward()
    else:
        task.training_step(batch, step=step).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    task.after_optimizer_step(step)


def memory_child(order: str) -> None:
    config = load_config(
        packaged_config(PAPER),
        [
            "model.options.base_options.encoder_weights=null",
            "fd.enabled=false",
            "trainer.batch_size=1",
            "trainer.unlabelled_batch_size=1",
        ],
    )
    model, task, optimizer = setup(config)
    batch = fake_batch(config, 1, 1)
    loaded = rss_bytes()
    start = time.perf_counter()
    engine_step(task, optimizer, batch, step=1, staged=order == "staged")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"order": order, "loaded": loaded, "peak": peak, "seconds": seconds,
                      "params": params}))  # fmt: skip


def memory() -> list[dict]:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    results = []
    for order in ("single", "staged"):
        done = subprocess.run(
            [sys.executable, __file__, "--child", order],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{order} child failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    return results


def own_step(model: torch.nn.Module, optimizer: Any, batch: TrainBatch) -> None:
    """The model's own training step on the same images: forward, CE, backward, AdamW."""
    passes = [(batch.labelled["image"], batch.labelled["label"])]
    if batch.unlabelled is not None:
        passes.append((batch.unlabelled["image"], batch.labelled["label"]))
    for images, labels in passes:
        logits = model(images).logits
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear")
        F.cross_entropy(logits, labels).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def step_time(name: str, rounds: int = 8) -> dict[str, float]:
    config = load_config(packaged_config(name))
    model, task, optimizer = setup(config)
    t = config.trainer
    batch = fake_batch(config, t.batch_size, t.unlabelled_batch_size)
    step = max(config.pixl.start_step, config.self_training.start_step) + 10
    best = {"engine": float("inf"), "model": float("inf")}
    for _ in range(rounds):
        for kind in best:
            start = time.perf_counter()
            if kind == "engine":
                engine_step(task, optimizer, batch, step, staged=True)
            else:
                own_step(model, optimizer, batch)
            best[kind] = min(best[kind], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("memory", "time", "all"), default="all")
    parser.add_argument("--child", choices=("single", "staged"))
    args = parser.parse_args()
    if args.child:
        memory_child(args.child)
        return
    head = [
        f"Machine: {machine_line()}; 2 cores and 24 GB shared with other jobs.",
        f"Command: `OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_memory.py "
        f"--part {args.part}`",
        "",
    ]
    if args.part in ("memory", "all"):
        single, staged = memory()
        above = {r["order"]: (r["peak"] - r["loaded"]) / GIB for r in (single, staged)}
        body = [
            *head,
            f"One UDA step of `{PAPER}` (HRDA MiT-B5, {single['params'] / 1e6:.0f} M parameters, "
            "1024x1024 crops), batch 1 + 1, fp32, CPU, random init, FD off; each order once, "
            "alone in its process:",
            "",
            "| backward order | peak RSS above the loaded model (GiB) | batch 2 + 2, estimate (GiB) "
            "| step (s) |",
            "|---|---:|---:|---:|",
            f"| single backward of the summed loss (before) | {above['single']:.1f} "
            f"| {2 * above['single']:.1f} | {single['seconds']:.0f} |",
            f"| source terms first, then the mixed pass (now) | {above['staged']:.1f} "
            f"| {2 * above['staged']:.1f} | {staged['seconds']:.0f} |",
            "",
            "Batch 2 + 2 estimate: twice the 1 + 1 figure (activations grow with the batch; the "
            "model, teacher and optimizer state are in the loaded part). Step times depend on the "
            "machine's load while each child ran.",
        ]
        print("\n".join(body))
        write_section("Memory of a paper-scale UDA step (bench_memory.py)", "\n".join(body))
    if args.part in ("time", "all"):
        rows = []
        for name in ("digits/supervised_pixl", "digits/uda_pixl"):
            best = step_time(name)
            rows.append(
                f"| `{name}` | {1000 * best['engine']:.0f} | {1000 * best['model']:.0f} "
                f"| {best['engine'] / best['model']:.2f}x |"
            )
            print(rows[-1], flush=True)
        body = [
            *head,
            "Step time on the CPU, DigitScenes configs at their batch (supervised 8, UDA 8 + 8; "
            "64x64), a step with self-training and PiXL on; best of 8 rounds taking turns in one process:",
            "",
            "| config | engine step (ms) | model's own fwd + bwd + AdamW (ms) | ratio |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            "The engine step: task stages with their backward, AdamW, EMA update. The model's own "
            "step: one forward + CE + backward per batch the task forwards (UDA: labelled and "
            "unlabelled), AdamW. The ratio includes the PiXL terms (on at this step) and, in UDA, "
            "the teacher's pseudo-labels, ClassMix and strong augmentation: not bookkeeping alone.",
        ]
        print("\n".join(body))
        write_section(
            "Step time: engine against the model's own step (bench_memory.py)", "\n".join(body)
        )


if __name__ == "__main__":
    main()
