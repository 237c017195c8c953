"""Training the ablations' runs: one ``pixl train`` process per run, ``--jobs`` at a time, each
stored as it finishes with its final val row and late-run statistics."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ablations.store import Outcome, Run, load_store, save_store

# Logged statistics summarised for each run (mean over the last quarter of the logged steps).
STATS = (
    "train/ce_labelled",
    "train/ce_mixed",
    "train/pixl_labelled",
    "train/pixl_mixed",
    "pseudo/weight",
    "pixl_mixed/joint_pixels",
    "pixl_mixed/drift_pixels",
    "pixl_mixed/prototypes",
    "pixl_labelled/joint_pixels",
    "pixl_labelled/drift_pixels",
    "pixl_labelled/prototypes",
    "train/pixl_joint",
    "pixl_joint/joint_pixels",
    "pixl_joint/drift_pixels",
)


def summarise(metrics: Path) -> tuple[dict, dict[str, float], dict[str, list[float]]]:
    """The final val row, late-run means of STATS, and the CE/PiXL curves (every logged step)."""
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    train = [r for r in rows if r["kind"] == "train"]
    val = [r for r in rows if r["kind"] == "val"]
    if not val:
        raise RuntimeError(f"{metrics}: no validation row (did the run finish?)")
    late = train[len(train) * 3 // 4 :] or train
    stats = {
        k: statistics.fmean(r[k] for r in late) for k in STATS if late and all(k in r for r in late)
    }
    curve = {k: [r[k] for r in train if k in r] for k in ("step", *STATS[:4])}
    if len(val) > 1:  # periodic evaluation: the target-val curve of the run
        curve["val_step"] = [r["step"] for r in val]
        curve["val_miou"] = [r["miou"] for r in val]
    return val[-1], stats, curve


def scaled_start_steps(run: Run) -> list[str]:
    """With ``--steps``, PiXL and self-training start at the same fraction of the run as shipped."""
    from pixl.config import load_config

    config = load_config(run.config, list(run.overrides))
    total = config.trainer.max_steps
    out = [f"pixl.start_step={config.pixl.start_step * run.steps // total}"]
    if config.task != "supervised":
        start = config.self_training.start_step * run.steps // total
        out.append(f"self_training.start_step={start}")
    return out


def train(run: Run, output_dir: Path, threads: int, adopt: bool = True) -> Outcome:
    """Train ``run`` with ``pixl train`` (or, with ``adopt``, take its finished folder as is)."""
    overrides = [
        *run.overrides,
        f"trainer.seed={run.seed}",
        f"output_dir={output_dir}",
        f"name={run.name}",
        "trainer.progress_bar=false",
    ]
    if run.steps is not None:
        overrides += [f"trainer.max_steps={run.steps}", *scaled_start_steps(run)]
    cmd = [sys.executable, "-m", "pixl.cli", "train", run.config, *overrides, "--overwrite"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1")
    run_dir = output_dir / run.name
    seconds = finished_seconds(run_dir) if adopt else None
    if seconds is None:
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    val, stats, curve = summarise(run_dir / "metrics.jsonl")
    return Outcome(
        miou=val["miou"],
        per_class=val["per_class_iou"],
        seconds=seconds,
        steps=val["step"],
        run_dir=str(run_dir),
        stats=stats,
        curve=curve,
    )


def finished_seconds(run_dir: Path) -> float | None:
    """The wall time of a run that finished in ``run_dir`` but was never stored (its sitting was
    interrupted after the run ended), from its own files; None when it did not finish there."""
    metrics = run_dir / "metrics.jsonl"
    if not (run_dir / "final" / "model.safetensors").is_file() or not metrics.is_file():
        return None
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    if not any(r["kind"] == "val" for r in rows):
        return None
    return rows[-1]["time"] - (run_dir / "config.yaml").stat().st_mtime


def runs_to_train(
    runs: list[Run], stored: Iterable[str], done: set[str], rerun: bool, limit: int | None = None
) -> list[Run]:
    """The runs a call of ``execute`` trains, in the given order: each key once, none trained
    earlier in the sitting (``done``), none stored unless ``rerun``; with ``limit``, only as many
    as keep the sitting's total (``done`` included) at most ``limit``."""
    keys = set(stored)
    todo = list(
        {r.key: r for r in runs if r.key not in done and (rerun or r.key not in keys)}.values()
    )
    return todo if limit is None else todo[: max(limit - len(done), 0)]


def execute(runs: list[Run], args: argparse.Namespace) -> dict[str, dict]:
    """Train the runs not stored yet (``--jobs`` at a time, at most ``args.max_runs`` in the
    sitting when the script has that option) and return the store."""
    store = load_store()
    done = getattr(args, "trained_keys", set())  # trained in this sitting: never twice
    todo = runs_to_train(runs, store, done, args.rerun, getattr(args, "max_runs", None))
    args.trained = len(todo)  # what record() says this sitting did
    args.trained_keys = done | {r.key for r in todo}
    before = getattr(args, "stored_before", set())  # stored when the sitting began
    reused = [r for r in runs if r.key in before and r.key not in args.trained_keys]
    args.reused = getattr(args, "reused", 0) + len(reused)
    threads = max(1, (os.cpu_count() or 2) // args.jobs)
    print(f"{len(runs)} runs, {len(todo)} to train, {args.jobs} at a time x {threads} threads")

    def one(run: Run) -> tuple[Run, Outcome]:
        outcome = train(run, Path(args.output_dir), threads, adopt=not args.rerun)
        print(
            f"  {run.label:45s} seed {run.seed}: mIoU {100 * outcome.miou:5.2f} "
            f"({outcome.seconds:.0f} s)",
            flush=True,
        )
        return run, outcome

    with ThreadPoolExecutor(args.jobs) as pool:
        # Store each run as it finishes, so an interrupted part loses only the runs in flight.
        for future in as_completed([pool.submit(one, run) for run in todo]):
            run, outcome = future.result()
            store = load_store()
            store[run.key] = {"label": run.label, **outcome.__dict__}
            save_store(store)
    return load_store()
