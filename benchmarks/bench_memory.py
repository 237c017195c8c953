"""Paper-scale memory of one UDA step, and the engine's step time against the model's own step.

Run: ``OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_memory.py [--part memory|time|all]``

1. ``memory``: ``pixl check`` of the paper's config ``uda/gta5_to_cityscapes_hrda_pixl`` (HRDA,
   MiT-B5, 1024x1024 crops) at the paper's batch 2 + 2 (``--batch``), fp32 on the CPU, random
   init (``encoder_weights: null``; memory does not depend on the values, and the feature
   distance, which needs ImageNet weights, is off), on fake official-format GTA5 and Cityscapes
   data written to a temporary folder. Variants (``--variants``): ``default`` and
   ``checkpointed`` (``model.activation_checkpointing=true``), each measured once, alone in its
   own process. Figure: the peak RSS above the loaded model and data, and the stage of the step
   that set it, as ``pixl check`` prints them (``pixl.engine.memory``; glibc returns freed
   blocks over 64 KiB, so the RSS follows the live tensors). ``--crop 512 --batch 1`` explores
   at a smaller scale; ``--no-write`` writes no file.
2. ``time``: the supervised and UDA DigitScenes configs (``digits/supervised_pixl``,
   ``digits/uda_pixl`` at a step where self-training and PiXL are on): the engine's step
   (``train_step``: stages, backward, AdamW, EMA) against the model's own forward + backward + AdamW step on the
   same images (UDA: one pass on the labelled and one on the unlabelled batch, as the task makes),
   in one process taking turns; best of the rounds.
Writes ``benchmarks/results/memory.md`` (part ``memory``) and ``benchmarks/results/step_time.md``
(part ``time``); ``--crop`` or ``--batch`` other than the paper's write ``memory_explore.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import results
from pixl.config import load_config, packaged_config
from pixl.engine import Run, TrainBatch, build_run, train_step
from pixl.engine.distributed import make_fabric

PAPER = "uda/gta5_to_cityscapes_hrda_pixl"


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


def setup(config: Any) -> Run:
    """The run as the trainer builds it, without data (the batches are fake)."""
    fabric = make_fabric(config.trainer)
    fabric.launch()
    return build_run(config, fabric, loaders=False)


CITYSCAPES_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)


def fake_official_data(root: Path, size: tuple[int, int] = (512, 1024), count: int = 2) -> None:
    """GTA5 and Cityscapes in their official layouts (random images, blocky labels of the 19
    classes), prepared as ``pixl data prepare`` does. The paper config resizes and crops them to
    its shapes, so their own size does not change the step."""
    import cv2
    import numpy as np
    from PIL import Image

    from pixl.data import prepare_dataset
    from pixl.data.info import CITYSCAPES_PALETTE

    rng = np.random.default_rng(0)
    height, width = size

    def label() -> np.ndarray:
        blocks = rng.choice(CITYSCAPES_IDS, size=(height // 64, width // 64))
        return np.kron(blocks, np.ones((64, 64), dtype=blocks.dtype)).astype(np.uint8)

    def image(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 256, (height, width, 3), dtype=np.uint8))

    palette = [v for color in CITYSCAPES_PALETTE for v in color]
    for i in range(1, count + 1):
        image(root / "gta5" / "images" / f"{i:05d}.png")
        labels = Image.fromarray(label(), mode="P")
        labels.putpalette(palette + [0] * (768 - len(palette)))
        (root / "gta5" / "labels").mkdir(parents=True, exist_ok=True)
        labels.save(root / "gta5" / "labels" / f"{i:05d}.png")
    for split in ("train", "val"):
        for i in range(count):
            stem = f"aachen_{i:06d}_000019"
            image(
                root / "cityscapes" / "leftImg8bit" / split / "aachen" / f"{stem}_leftImg8bit.png"
            )
            path = root / "cityscapes" / "gtFine" / split / "aachen" / f"{stem}_gtFine_labelIds.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), label())
    prepare_dataset("gta5", root / "gta5", workers=1)
    prepare_dataset("cityscapes", root / "cityscapes", workers=1)


def check_command(data: Path, batch: int, checkpointing: bool, extra: list[str]) -> list[str]:
    """``pixl check`` of the paper config on the fake data: random init, FD off (as measured in
    issue 22), ``batch`` + ``batch`` images, activation checkpointing on or off."""
    return [
        "pixl", "check", f"configs/{PAPER}.yaml",
        "model.options.base_options.encoder_weights=null", "fd.enabled=false",
        *(["model.activation_checkpointing=true"] if checkpointing else []),
        f"data.labelled.root={data / 'gta5'}", f"data.unlabelled.root={data / 'cityscapes'}",
        f"data.val.root={data / 'cityscapes'}", "trainer.num_workers=0",
        *extra, "--batch", str(batch),
    ]  # fmt: skip


def run_check(command: list[str]) -> dict[str, Any]:
    """One ``pixl check`` in its own process (glibc returns freed blocks over 64 KiB to the
    system, so the RSS follows the live tensors); its figures parsed from what it prints."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    code = "import sys; from pixl.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, *command[1:]],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    out = done.stdout
    print(out, flush=True)
    found = {
        "seconds": float(re.search(r": ([0-9.]+) s \(first step\)", out).group(1)),  # type: ignore[union-attr]
        "peak": float(re.search(r"peak memory: ([0-9.]+) GiB", out).group(1)),  # type: ignore[union-attr]
        "stage": re.search(r"set by: (.*)", out).group(1).strip(),  # type: ignore[union-attr]
        "stages": re.search(r"peak per stage, GiB \(held when it began\): (.*)", out)
        .group(1)
        .strip(),  # type: ignore[union-attr]
        "output": out,
    }
    return found


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
    run = setup(config)
    t = config.trainer
    batch = fake_batch(config, t.batch_size, t.unlabelled_batch_size)
    step = max(config.pixl.start_step, config.self_training.start_step) + 10
    best = {"engine": float("inf"), "model": float("inf")}
    for _ in range(rounds):
        for kind in best:
            start = time.perf_counter()
            if kind == "engine":
                train_step(run, batch, step=step)
            else:
                own_step(run.raw_model, run.optimizer, batch)
            best[kind] = min(best[kind], time.perf_counter() - start)
    return best


def memory(batch: int, crop: int | None, variants: list[str]) -> list[dict[str, Any]]:
    """One ``pixl check`` per variant (``default``, ``checkpointed``), one after the other."""
    extra = [] if crop is None else [
        f"data.labelled.crop_size=[{crop},{crop}]", f"data.unlabelled.crop_size=[{crop},{crop}]"
    ]  # fmt: skip
    checks = []
    with tempfile.TemporaryDirectory() as folder:
        fake_official_data(Path(folder))
        for variant in variants:
            command = check_command(Path(folder), batch, variant == "checkpointed", extra)
            shown = " ".join(command).replace(folder, "$DATA")
            checks.append({"variant": variant, "command": shown, **run_check(command)})
    return checks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("memory", "time", "all"), default="all")
    parser.add_argument("--batch", type=int, default=2, help="memory: images per stream")
    parser.add_argument("--crop", type=int, help="memory: crop side (default: the config's 1024)")
    parser.add_argument(
        "--variants", default="default,checkpointed", help="memory: comma-separated variants"
    )
    parser.add_argument("--no-write", action="store_true", help="print only (exploring)")
    args = parser.parse_args()
    if args.part in ("memory", "all"):
        checks = memory(args.batch, args.crop, args.variants.split(","))
        rows = [
            f"| {r['variant']} | {r['peak']:.2f} | {r['stage']} | {r['seconds']:.0f} |"
            for r in checks
        ]
        size = args.crop or 1024
        body = [
            f"One UDA step of `{PAPER}` (HRDA MiT-B5, {size}x{size} crops) at batch {args.batch} + "
            f"{args.batch}, fp32, CPU, random init, FD off, through `pixl check` on fake "
            "official-format GTA5 and Cityscapes data (each variant once, alone in its process):",
            "",
            "| variant | peak RSS above the loaded model (GiB) | stage that set it | step (s) |",
            "|---|---:|---|---:|",
            *rows,
            "",
            "Peak of each stage and, in brackets, what was already held when it began (GiB above the "
            "loaded model; `pixl check` prints it):",
            "",
            *[f"- {r['variant']}: {r['stages']}" for r in checks],
            "",
            "Step: the first step as `pixl check` times it (one-time costs such as AdamW's state "
            "included), one run per variant; compare with care. Gradients with and "
            "without checkpointing are equal (tests/models/test_checkpointing.py, "
            "tests/engine/test_staged_backward.py).",
            "",
            "Commands (`$DATA`: the fake data's temporary folder):",
            "",
            *[f"- `{r['command']}`" for r in checks],
        ]
        print("\n".join(body))
        if not args.no_write:
            paper_scale = args.crop in (None, 1024) and args.batch == 2
            results.write_result(
                "memory" if paper_scale else "memory_explore",
                [("Memory of a paper-scale UDA step", "\n".join(body))],
                title="Memory of a paper-scale UDA step",
            )
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
        if not args.no_write:
            results.write_result(
                "step_time",
                [("Engine step against the model's own step", "\n".join(body))],
                title="Step time: engine against the model's own step",
            )


if __name__ == "__main__":
    main()
