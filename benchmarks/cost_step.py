"""Child of ``bench_ablations.py --part cost``: one UDA training step of HRDA (MiT-B0) on 256x256
DigitScenes crops, batch 2 + 2, with or without PiXL; prints JSON {median_s, peak_extra_mb}.

Memory is VmHWM (reset through /proc/self/clear_refs) above the RSS before the measured step; the
parent measures it in a second child (``--repeats 0``) run with MALLOC_MMAP_THRESHOLD_=65536 so
freed tensors leave the RSS, and times with the default allocator.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import default_collate

from pixl.config import load_config
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixl", choices=["true", "false"], required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", default="data/digits")
    args = parser.parse_args()
    config = load_config(
        "digits/uda_pixl",
        [
            *HRDA_MIT_B0,
            f"pixl.enabled={args.pixl}",
            "trainer.batch_size=2",
            "trainer.unlabelled_batch_size=2",
            "pixl.start_step=0",  # the full UDA step from the first step on
            "self_training.start_step=0",
        ],
    )
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
    task = build_task(
        config,
        model=model,
        raw_model=model,
        generator=torch.Generator().manual_seed(0),
        teacher=teacher,
        feature_distance=None,
    )

    def batch(split: str) -> dict:
        data = build_dataset(
            "digits", args.root, split, train=True, crop_size=None, resize=(256, 256), flip=False
        )
        return default_collate([data[i] for i in range(2)])

    step_batch = TrainBatch(labelled=batch("source_train"), unlabelled=batch("target_train"))

    def step(i: int) -> None:
        out = task.training_step(step_batch, step=i)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        teacher.update(model, i)

    step(0)  # warm-up: lazy initialisation and optimizer state stay out of the figures
    times = []
    for i in range(args.repeats):
        start = time.perf_counter()
        step(i + 1)
        times.append(time.perf_counter() - start)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
    base = rss("VmRSS:")
    step(args.repeats + 1)
    peak = rss("VmHWM:") - base
    median = statistics.median(times) if times else float("nan")
    print(json.dumps({"median_s": median, "peak_extra_mb": peak / 2**20}))


if __name__ == "__main__":
    main()
