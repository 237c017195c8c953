"""Child of ``bench_ablations.py --part cost``: the UDA training step of HRDA (MiT-B0) on 256x256
DigitScenes frames, batch 2 + 2, with and without PiXL; prints one JSON line.

``--measure time``: one process, one run (``build_run``: model, optimizer, teacher); two tasks
that differ only in ``pixl.enabled`` take turns in the trainer's own step (``train_step``), in ABBA
order, so drift in the machine's speed hits both alike, after one warm-up step each. Prints the
step times of both, and the time spent inside the PiXL terms' forward (partition, prototypes,
contrast; their backward is inside the step time only).

``--measure memory --pixl true|false``: VmHWM (reset through /proc/self/clear_refs) above the RSS
before one step; the parent runs it with MALLOC_MMAP_THRESHOLD_=65536 so freed tensors leave the
RSS. One process per variant, so neither sees the other's allocations.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import default_collate

from pixl.config import load_config
from pixl.config.schema import ExperimentConfig
from pixl.data import build_dataset
from pixl.engine import Run, TrainBatch, build_run, train_step
from pixl.engine.build import build_task
from pixl.engine.distributed import make_fabric
from pixl.engine.terms import PiXLTerm

HRDA_MIT_B0 = (
    "model.name=hrda",
    "model.options={base: daformer, base_options: {encoder: mit_b0, encoder_weights: null,"
    " embed_dim: 256}, scale: 0.5, detail_crop: 0.5, attention_dim: 256}",
    "model.detail_weight=0.1",
)


def rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


class TimedTerm:
    """Wraps a task's ``PiXLTerm``s and adds up the seconds spent in their calls (forward only)."""

    def __init__(self, term: Any, clock: list[float]) -> None:
        self.term = term
        self.clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.term, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = self.term(*args, **kwargs)
        self.clock[0] += time.perf_counter() - start
        return out


def config_for(pixl: bool) -> ExperimentConfig:
    return load_config(
        "digits/uda_pixl",
        [
            *HRDA_MIT_B0,
            f"pixl.enabled={str(pixl).lower()}",
            "trainer.batch_size=2",
            "trainer.unlabelled_batch_size=2",
            "pixl.start_step=0",  # the full UDA step from the first step on
            "self_training.start_step=0",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", choices=["time", "memory"], required=True)
    parser.add_argument("--pixl", choices=["true", "false"], default="true", help="memory only")
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--root", default="data/digits")
    args = parser.parse_args()
    variants = (False, True) if args.measure == "time" else (args.pixl == "true",)
    configs = {pixl: config_for(pixl) for pixl in variants}
    config = configs[variants[0]]
    fabric = make_fabric(config.trainer)
    fabric.launch()
    run = build_run(config, fabric, loaders=False)  # the batch below is fixed
    runs: dict[bool, Run] = {}
    for pixl, c in configs.items():
        task = build_task(
            c,
            model=run.model,
            raw_model=run.raw_model,
            generator=torch.Generator().manual_seed(0),
            teacher=run.teacher,
        )
        runs[pixl] = replace(run, config=c, task=task)
    pixl_seconds = [0.0]
    if True in runs:
        task = runs[True].task
        task.terms = [
            TimedTerm(t, pixl_seconds) if isinstance(t, PiXLTerm) else t for t in task.terms
        ]

    def batch(split: str) -> dict:
        data = build_dataset(
            "digits", args.root, split, train=True, crop_size=None, resize=(256, 256), flip=False
        )
        return default_collate([data[i] for i in range(2)])

    step_batch = TrainBatch(labelled=batch("source_train"), unlabelled=batch("target_train"))
    counter = iter(range(10**9))

    def step(pixl: bool) -> float:
        i = next(counter)
        start = time.perf_counter()
        train_step(runs[pixl], step_batch, step=i)
        return time.perf_counter() - start

    for pixl in variants:  # warm-up: lazy initialisation and optimizer state stay out
        step(pixl)
    if args.measure == "memory":
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
        base = rss("VmRSS:")
        step(variants[0])
        print(json.dumps({"peak_extra_mb": (rss("VmHWM:") - base) / 2**20}))
        return
    times: dict[bool, list[float]] = {False: [], True: []}
    pixl_seconds[0] = 0.0
    for i in range(args.repeats):
        for pixl in (False, True) if i % 2 == 0 else (True, False):
            times[pixl].append(step(pixl))
    print(
        json.dumps(
            {
                "without_s": times[False],
                "with_s": times[True],
                "pixl_forward_s": pixl_seconds[0] / args.repeats,
            }
        )
    )


if __name__ == "__main__":
    main()
