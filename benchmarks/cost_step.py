"""Child of ``bench_ablations.py --part cost``: the UDA training step of HRDA (MiT-B0) on 256x256
DigitScenes frames, batch 2 + 2, with and without PiXL; prints one JSON line.

``--measure time``: one process, one model, optimizer and teacher; two tasks that differ only in
``pixl.enabled`` take turns (ABBA order, so drift in the machine's speed hits both alike), after one
warm-up step each. Prints the step times of both, and the time spent inside the PiXL terms' forward
(partition, prototypes, contrast; their backward is inside the step time only).

``--measure memory --pixl true|false``: VmHWM (reset through /proc/self/clear_refs) above the RSS
before one step; the parent runs it with MALLOC_MMAP_THRESHOLD_=65536 so freed tensors leave the
RSS. One process per variant, so neither sees the other's allocations.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import default_collate

from pixl.config import load_config
from pixl.config.schema import ExperimentConfig
from pixl.data import build_dataset
from pixl.engine.build import build_model, build_task
from pixl.engine.optim import build_optimizer
from pixl.engine.tasks.base import TrainBatch
from pixl.engine.teacher import EMATeacher
from pixl.models import param_groups

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
    """Wraps a task's ``PiXLTerm`` and adds up the seconds spent in its calls (forward only)."""

    def __init__(self, term: Any) -> None:
        self.term = term
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.term, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = self.term(*args, **kwargs)
        self.seconds += time.perf_counter() - start
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
    torch.manual_seed(0)
    model = build_model(config)
    teacher = EMATeacher(model, config.self_training.ema_alpha)
    optimizer = build_optimizer(
        param_groups(
            model,
            lr=config.optim.lr,
            weight_decay=config.optim.weight_decay,
            head_lr_mult=config.optim.head_lr_mult,
        ),
        config.optim,
    )
    tasks = {
        pixl: build_task(
            c,
            model=model,
            raw_model=model,
            generator=torch.Generator().manual_seed(0),
            teacher=teacher,
            feature_distance=None,
        )
        for pixl, c in configs.items()
    }
    timed_term = None
    if True in tasks:
        timed_term = tasks[True].pixl = TimedTerm(tasks[True].pixl)

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
        out = tasks[pixl].training_step(step_batch, step=i)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        teacher.update(model, i)
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
    assert timed_term is not None
    timed_term.seconds = 0.0
    for i in range(args.repeats):
        for pixl in (False, True) if i % 2 == 0 else (True, False):
            times[pixl].append(step(pixl))
    print(
        json.dumps(
            {
                "without_s": times[False],
                "with_s": times[True],
                "pixl_forward_s": timed_term.seconds / args.repeats,
            }
        )
    )


if __name__ == "__main__":
    main()
