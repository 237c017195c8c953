"""TexScapes, the benchmark in the paper's regime: what ImageNet features change, and how much room
adaptation has.

For each seed and each encoder start (the packaged ImageNet EfficientNet-Lite0 weights, or random
init), trains the shipped ``texscapes/source_only``, ``texscapes/uda_baseline`` and
``texscapes/oracle`` configs (runs already in the store are not retrained) and writes
``benchmarks/results/texscapes.md``: the dataset card's cell purity and class frequencies, a picture
of a source and a target frame with their labels (``benchmarks/results/texscapes_frames.png``), and
the mIoU of every run with mean +/- std over seeds. Random init turns FD off: FD pulls the features
towards the ImageNet encoder's, which would bring ImageNet back into the random-init rows.

Store layout (shared with hand-launched runs): ``STORE/{imagenet,random}/seed{N}/texscapes_{config}/
eval/report.json``. Usage::

    .venv/bin/python benchmarks/bench_texscapes.py [--store runs/texscapes_bench] [--seeds 0 1 2]
        [--jobs 2] [--root data/texscapes] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

import results
from pixl.data.kinds import dataset_info, is_prepared, prepare_dataset
from pixl.data.synthetic import scene_paths
from pixl.visualization.legend import classes_present, with_legend
from pixl.visualization.palette import colorize

CONFIGS = ("source_only", "uda_baseline", "oracle")
INITS = ("imagenet", "random")
FRAMES = "texscapes_frames.png"


def run_dir(store: Path, init: str, seed: int, config: str) -> Path:
    return store / init / f"seed{seed}" / f"texscapes_{config}"


def train_command(store: Path, init: str, seed: int, config: str, root: Path) -> list[str]:
    cmd = [sys.executable, "-m", "pixl.cli", "train", f"texscapes/{config}"]
    cmd += [f"output_dir={store / init / f'seed{seed}'}", f"trainer.seed={seed}"]
    cmd += ["trainer.checkpoint_every=0", "trainer.progress_bar=false"]
    for part in (
        ("labelled", "unlabelled", "val") if config == "uda_baseline" else ("labelled", "val")
    ):
        cmd.append(f"data.{part}.root={root}")
    if init == "random":
        cmd += ["model.options.encoder_weights=null", "fd.enabled=false"]
    return cmd


def train(store: Path, init: str, seed: int, config: str, root: Path) -> None:
    out = run_dir(store, init, seed, config)
    if (out / "eval/report.json").exists():
        return
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")
    )
    log = store / f"log_{init}_{config}_{seed}.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        subprocess.run(
            train_command(store, init, seed, config, root), env=env, stdout=handle, stderr=handle
        )


def miou(store: Path, init: str, seed: int, config: str) -> float | None:
    report = run_dir(store, init, seed, config) / "eval/report.json"
    return 100 * json.loads(report.read_text())["miou"] if report.exists() else None


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.2f} +/- {std:.2f}"


def results_table(store: Path, seeds: list[int]) -> str:
    head = "| encoder start | config | " + " | ".join(f"seed {s}" for s in seeds)
    lines = [head + " | mean +/- std (n) |", "|---|---|" + "---|" * (len(seeds) + 1)]
    for init in INITS:
        for config in CONFIGS:
            values = [miou(store, init, s, config) for s in seeds]
            cells = [f"{v:.2f}" if v is not None else "-" for v in values]
            done = [v for v in values if v is not None]
            lines.append(
                f"| {init} | {config} | "
                + " | ".join(cells)
                + f" | {mean_std(done)} ({len(done)}) |"
            )
    return "\n".join(lines)


def ratio_lines(store: Path, seeds: list[int]) -> str:
    """Source-only as a share of the oracle, and UDA's gain over source-only, paired by seed."""
    lines = []
    for init in INITS:
        pairs = [
            (
                miou(store, init, s, "source_only"),
                miou(store, init, s, "uda_baseline"),
                miou(store, init, s, "oracle"),
            )
            for s in seeds
        ]
        shares = [so / orc for so, _, orc in pairs if so is not None and orc is not None]
        gains = [uda - so for so, uda, _ in pairs if so is not None and uda is not None]
        if shares:
            lines.append(
                f"- {init}: source-only / oracle = {100 * np.mean(shares):.1f} % "
                f"(per seed {', '.join(f'{100 * x:.1f}' for x in shares)})"
            )
        if gains:
            lines.append(
                f"- {init}: UDA baseline - source-only = {mean_std(gains)} mIoU points, "
                f"{sum(g > 0 for g in gains)}/{len(gains)} seeds above"
            )
    return "\n".join(lines) or "- no paired runs yet"


def card_sections(root: Path) -> str:
    """Cell purity and class frequencies, as the generator measured them (its dataset card)."""
    card = (root / "dataset_card.md").read_text()
    start = card.index("| split | domain | images |")
    return card[start:].strip()


def frames_picture(root: Path, out: Path) -> None:
    """A source and a target frame, each beside its label, with the legend of the classes shown."""
    info = dataset_info("texscapes", root)
    rows, masks = [], []
    for split in ("source_train", "target_val"):
        _, image_path, label_path = scene_paths(root, split, 0)
        image = np.asarray(Image.open(image_path).convert("RGB"))
        label = np.asarray(Image.open(label_path))
        masks.append(label)
        gap = np.full((image.shape[0], 8, 3), 255, np.uint8)
        rows.append(np.concatenate([image, gap, colorize(label, info.palette)], axis=1))
    gap = np.full((8, rows[0].shape[1], 3), 255, np.uint8)
    picture = np.concatenate([rows[0], gap, rows[1]], axis=0)
    shown = classes_present(*masks, num_classes=info.num_classes)
    Image.fromarray(with_legend(picture, shown, info.class_names, info.palette)).save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("runs/texscapes_bench"))
    parser.add_argument("--root", type=Path, default=Path("data/texscapes"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--render-only", action="store_true", help="train nothing; render the store"
    )
    args = parser.parse_args()
    if not is_prepared("texscapes", args.root):
        prepare_dataset("texscapes", args.root)
    if not args.render_only:
        jobs = [(i, s, c) for i in INITS for s in args.seeds for c in CONFIGS]
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda job: train(args.store, *job, args.root), jobs))
    frames = results.BENCHMARKS / "results" / FRAMES
    frames_picture(args.root, frames)
    sections = [
        (
            "Frames",
            f"Source (synth, top) and target (photo, bottom), image and label:\n\n![frames]({FRAMES})",
        ),
        ("Dataset: cell purity and class frequencies (dataset card)", card_sections(args.root)),
        (
            "Source-only, UDA baseline, oracle: mIoU (%) on target_val",
            "DeepLabV3+ on EfficientNet-Lite0, configs `texscapes/{source_only,uda_baseline,oracle}` "
            "(400 steps, 192-px crops, batch 4 (+ 4)); random init: `model.options."
            "encoder_weights=null fd.enabled=false`. Store: "
            f"`{args.store}`.\n\n{results_table(args.store, args.seeds)}\n\n"
            f"{ratio_lines(args.store, args.seeds)}",
        ),
    ]
    path = results.write_result("texscapes", sections, title="TexScapes")
    print(path.read_text())


if __name__ == "__main__":
    main()
