"""Data pipeline benchmark: DigitScenes generation time and loader throughput (images/s).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data.py [--quick]``
Loaders: DigitScenes source_train (128x128, train transforms) and fake Cityscapes frames at
1024x512 (random crop 512x512 + flip, the DAFormer Cityscapes pipeline), batch 4, with 0, 1 and
2 DataLoader workers. Writes ``benchmarks/results/data.md`` (``--quick``: ``data.quick.md``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

import results  # benchmarks/results.py: notes the start time and load average on import
from pixl.data import build_dataset, generate_digit_scenes, prepare_dataset


def throughput(dataset, workers: int, images: int, batch_size: int = 4) -> float:
    """Images per second over ``images`` samples (after one warm-up batch)."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=False,
    )
    iterator = iter(loader)
    next(iterator)
    start, seen = time.perf_counter(), 0
    while seen < images:
        try:
            seen += len(next(iterator)["name"])
        except StopIteration:
            iterator = iter(loader)
    return seen / (time.perf_counter() - start)


def fake_cityscapes(root: Path, count: int) -> None:
    """Smooth random frames (PNG sizes like real ones) with block labels, 1024x512."""
    rng = np.random.default_rng(0)
    for i in range(count):
        stem = f"aachen_{i:06d}_000019"
        small = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
        image = cv2.resize(small, (1024, 512), interpolation=cv2.INTER_CUBIC)
        image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
        labels = cv2.resize(
            rng.integers(0, 34, (16, 32), dtype=np.uint8),
            (1024, 512),
            interpolation=cv2.INTER_NEAREST,
        )
        for split in ("train", "val"):
            (root / "leftImg8bit" / split / "aachen").mkdir(parents=True, exist_ok=True)
            (root / "gtFine" / split / "aachen").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "leftImg8bit/train/aachen" / f"{stem}_leftImg8bit.png"), image)
        cv2.imwrite(str(root / "gtFine/train/aachen" / f"{stem}_gtFine_labelIds.png"), labels)
    cv2.imwrite(str(root / "leftImg8bit/val/aachen/aachen_999999_000019_leftImg8bit.png"), image)
    cv2.imwrite(str(root / "gtFine/val/aachen/aachen_999999_000019_gtFine_labelIds.png"), labels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer images (a smoke run)")
    args = parser.parse_args()
    measured = 64 if args.quick else 400
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        digits_root, city_root = Path(tmp) / "digits", Path(tmp) / "cityscapes"
        sizes = {"source_train": 100, "target_train": 100, "target_val": 20} if args.quick else None
        start = time.perf_counter()
        report = generate_digit_scenes(digits_root, seed=0, sizes=sizes, workers=2)
        generation = time.perf_counter() - start
        print(
            f"DigitScenes generation: {report.converted} images in {generation:.1f} s (2 workers)"
        )
        digits = build_dataset(
            "digits",
            digits_root,
            "source_train",
            train=True,
            crop_size=None,
            resize=None,
            flip=False,  # as the DigitScenes configs load it
        )
        fake_cityscapes(city_root, 16)
        start = time.perf_counter()
        prepare_dataset("cityscapes", city_root, workers=2)
        print(f"prepare cityscapes (17 frames 1024x512): {time.perf_counter() - start:.1f} s")
        city = build_dataset(
            "cityscapes", city_root, "train", train=True, crop_size=(512, 512), resize=(512, 1024)
        )
        for name, dataset, count in (
            ("DigitScenes 128x128", digits, measured),
            ("Cityscapes-like 1024x512, crop 512", city, measured // 4),
        ):
            for workers in (0, 1, 2):
                rows.append((name, workers, throughput(dataset, workers, count)))
    table = ["| dataset | workers | images/s |", "|---|---|---|"]
    table += [f"| {name} | {workers} | {rate:.1f} |" for name, workers, rate in rows]
    print("\n" + "\n".join(table))
    body = (
        f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (above the"
        " core count, other jobs shared the cores and worker scaling is noisy).\n\n"
        f"DigitScenes generation ({report.converted} images, 2 workers): {generation:.1f} s."
        " Loader: batch 4, shuffled, train transforms (DigitScenes: none, full 128x128 frames;"
        " Cityscapes-like: random 512x512 crop + flip of 1024x512 PNG frames), after one warm-up"
        f" batch; {measured} images measured per DigitScenes row.\n\n" + "\n".join(table)
    )
    results.write_result("data", [("Data loading", body)], title="Data loading", quick=args.quick)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
