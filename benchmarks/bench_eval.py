"""Evaluation benchmark: confusion-matrix speed, inference time, agreement with the official evaluator.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_eval.py``
1. Confusion matrix of one 1024x2048 Cityscapes-size frame (10 % ignore): ``pixl`` (one
   bincount) vs cityscapesscripts' ``evaluatePair`` on the same arrays written as PNGs.
2. A fake Cityscapes val set (4 frames 512x1024, random images, blocky random label ids incl.
   void) scored by ``pixl`` (whole and sliding window, images resized to 256x512, scores on the
   full-size labels) and by the official evaluator on ``labelid`` exports: |difference| of mIoU.
Writes ``benchmarks/results/eval.md``.
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official
from cityscapesscripts.helpers.labels import labels as cs_labels

import results
from pixl.config import config_from_dict
from pixl.core import IGNORE_INDEX
from pixl.data import prepare_dataset
from pixl.evaluation import confusion_matrix, official_cityscapes_scores
from pixl.evaluation.runner import InferenceSettings, evaluate_config, predict_files
from pixl.models import create_model

LABEL_IDS = [label.id for label in cs_labels if label.id >= 0]


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def confusion_speed(folder: Path) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    preds = torch.from_numpy(rng.integers(0, 19, (1024, 2048)))
    target = torch.from_numpy(rng.integers(0, 19, (1024, 2048)))
    target[rng.random((1024, 2048)) < 0.1] = IGNORE_INDEX
    ours = best_of(lambda: confusion_matrix(preds, target, 19))
    pred_png, gt_png = folder / "p.png", folder / "g.png"
    cv2.imwrite(str(pred_png), rng.choice(LABEL_IDS, (1024, 2048)).astype(np.uint8))
    cv2.imwrite(str(gt_png), rng.choice(LABEL_IDS, (1024, 2048)).astype(np.uint8))
    args = copy.copy(official.args)
    args.evalInstLevelScore = args.evalPixelAccuracy = False

    def theirs() -> None:
        conf = official.generateMatrix(args)
        official.evaluatePair(str(pred_png), str(gt_png), conf, {}, {}, args)

    return ours, best_of(theirs, 3)


def fake_cityscapes(root: Path, count: int = 4, size: tuple[int, int] = (512, 1024)) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for index in range(count if split == "val" else 1):
            stem = f"frankfurt_{index:06d}_{index + 19:06d}"
            for folder, suffix, array in (
                ("leftImg8bit", "leftImg8bit", rng.integers(0, 256, (*size, 3), dtype=np.uint8)),
                (
                    "gtFine",
                    "gtFine_labelIds",
                    np.kron(
                        rng.choice(LABEL_IDS, (size[0] // 32, size[1] // 32)).astype(np.uint8),
                        np.ones((32, 32), np.uint8),
                    ),
                ),
            ):
                path = root / folder / split / "frankfurt" / f"{stem}_{suffix}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), array)
    prepare_dataset("cityscapes", root, workers=1)
    return root


def agreement(folder: Path) -> list[str]:
    root = fake_cityscapes(folder / "cityscapes")
    val = {"kind": "cityscapes", "root": str(root), "split": "val", "resize": [256, 512]}
    config = config_from_dict(
        {
            "name": "bench",
            "task": "supervised",
            "data": {"labelled": {**val, "split": "train"}, "val": val},
            "eval": {"window": [128, 128], "stride": [64, 64]},
        }
    )
    torch.manual_seed(0)
    model = create_model("daformer", 19, encoder="mit_b0", embed_dim=64).eval()
    with torch.no_grad():  # spread predictions over many classes
        model.classifier.weight.mul_(50)
    gt = sorted((root / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    rows = []
    for mode in ("whole", "slide"):
        settings = InferenceSettings.from_config(config, mode)
        start = time.perf_counter()
        report = evaluate_config(model, config, source="bench", settings=settings)
        seconds = (time.perf_counter() - start) / len(gt)
        out = folder / f"pred_{mode}"
        predict_files(
            model,
            config,
            root / "leftImg8bit" / "val",
            out,
            "labelid",
            weights="bench",
            settings=settings,
        )
        scores = official_cityscapes_scores(out, gt)
        present = sum(v == v for v in report.per_class_iou.values())
        rows.append(
            f"| {mode} | {seconds:.2f} | {100 * report.miou:.4f} | {100 * scores.miou:.4f} | "
            f"{abs(report.miou - scores.miou):.1e} | {present} |"
        )
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours, theirs = confusion_speed(folder)
        rows = agreement(folder)
    body = "\n".join(
        [
            "Confusion matrix of one 1024x2048 frame (best of 5 / 3):",
            "",
            "| implementation | ms per frame |",
            "|---|---|",
            f"| pixl `confusion_matrix` (one bincount, tensors in memory) | {1000 * ours:.1f} |",
            f"| cityscapesscripts `evaluatePair` (PNG read + count) | {1000 * theirs:.1f} |",
            "",
            "pixl eval vs the official evaluator on `labelid` exports (4 fake frames 512x1024, model",
            "input 256x512, DAFormer mit_b0 random init, scores on full-size labels):",
            "",
            "| mode | s per frame (pixl eval) | pixl mIoU % | official mIoU % | abs diff | classes present |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    results.write_result("eval", [("Evaluation", body)], title="Evaluation")


if __name__ == "__main__":
    main()
