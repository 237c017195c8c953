"""``pixl data prepare``: check a dataset's layout, convert labels to train ids, count classes.

``prepare_dataset`` runs the kind's own prepare step (``pixl.data.kinds``); ``convert_official``
is the step of the kinds whose shipped labels need converting (Cityscapes, GTA5, SYNTHIA).
Conversions run on all cores; every output is written atomically, so an interrupted run leaves
no half-written file and a re-run skips what is done. Problems with single files are collected
and reported together at the end; a missing or empty folder stops at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from rich.progress import track

from pixl.data.descriptor import DatasetKind
from pixl.data.io import PART_SUFFIX, image_size, write_png_atomic
from pixl.data.layouts import Record, check_layout, orphan_labels
from pixl.data.report import PrepareOptions, PrepareReport
from pixl.data.stats import build_stats, class_stats_path, count_classes, save_stats
from pixl.errors import DataError

__all__ = ["PrepareOptions", "PrepareReport", "convert_label", "convert_official"]

R = TypeVar("R")


@dataclass(frozen=True)
class FileResult:
    """One image's outcome: its class counts (None on a problem), the problem, whether written."""

    name: str
    counts: dict[int, int] | None
    problem: str | None
    converted: bool


def convert_label(kind: DatasetKind, raw: np.ndarray, path: Path) -> np.ndarray:
    """Map raw ids to train ids with the kind's table; unknown ids raise ``DataError``.

    Shape: [H, W] int -> [H, W] uint8.
    """
    table = kind.label_table
    assert table is not None, f"{kind.name} has no label table"
    values = np.unique(raw)
    bad = [int(v) for v in values if v < 0 or v >= len(table) or table[v] < 0]
    if bad:
        raise DataError(f"{path}: label ids {bad[:8]} are outside the {kind.name} label table")
    return table[raw].astype(np.uint8)


def check_size(record: Record, label: np.ndarray, label_path: Path) -> None:
    """The label must be as large as its image (read from the image header, fully verified)."""
    height, width = image_size(record.image)
    if label.shape != (height, width):
        raise DataError(
            f"{label_path}: label size {label.shape} differs from image size "
            f"{(height, width)} of {record.image.name}"
        )


def _convert_one(kind: DatasetKind, record: Record) -> FileResult:
    num_classes = kind.info().num_classes
    if record.label.is_file():
        try:
            counts = count_classes(kind.read_label(record.label), num_classes)
            return FileResult(record.name, counts, None, False)
        except DataError:
            pass  # unreadable output: convert again
    try:
        if record.raw_label is None or not record.raw_label.is_file():
            raise DataError(f"{record.raw_label}: label missing for image {record.image.name}")
        raw = kind.read_raw_label(record.raw_label)
        check_size(record, raw, record.raw_label)
        train_ids = convert_label(kind, raw, record.raw_label)
        write_png_atomic(record.label, train_ids)
    except DataError as error:
        return FileResult(record.name, None, str(error), False)
    return FileResult(record.name, count_classes(train_ids, num_classes), None, True)


def _star(args: tuple[Callable[..., R], tuple]) -> R:
    function, arguments = args
    return function(*arguments)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_files(
    function: Callable[..., R], jobs: list[tuple], options: PrepareOptions, label: str
) -> list[R]:
    """``function(*job)`` for every job, on ``options.workers`` processes, with a progress bar."""
    calls = [(function, job) for job in jobs]
    results: Iterable[R]
    if options.workers <= 1 or len(calls) < 8:
        results = map(_star, calls)
        return list(
            track(results, total=len(calls), description=label, disable=not options.progress)
        )
    chunk = max(1, len(calls) // (options.workers * 8))
    with ProcessPoolExecutor(max_workers=options.workers) as pool:
        results = pool.map(_star, calls, chunksize=chunk)
        return list(
            track(results, total=len(calls), description=label, disable=not options.progress)
        )


def remove_stale_parts(records: list[Record]) -> None:
    """Temporary files a killed run left behind."""
    for folder in {r.label.parent for r in records}:
        for part in folder.glob(f"*{PART_SUFFIX}"):
            part.unlink(missing_ok=True)


def record_split(
    kind: DatasetKind,
    root: Path,
    split: str,
    num_classes: int,
    results: list[FileResult],
    problems: list[str],
    report: PrepareReport,
) -> None:
    """Add a split's outcome to ``report``; write its class statistics when it has no problem."""
    report.problems.extend(problems)
    report.converted += sum(r.converted for r in results)
    report.skipped += sum(r.problem is None and not r.converted for r in results)
    if not problems:  # statistics only of a complete, clean split
        counts = [(r.name, r.counts) for r in results if r.counts is not None]
        path = class_stats_path(root, split)
        save_stats(build_stats(kind.name, split, num_classes, counts), path)
        report.stats_files.append(path)


def convert_official(kind: DatasetKind, root: Path, options: PrepareOptions) -> PrepareReport:
    """Prepare step of Cityscapes, GTA5 and SYNTHIA: convert raw labels, count classes."""
    splits = kind.splits_to_prepare(root)
    check_layout(kind.layout, kind.name, root, splits)
    report = PrepareReport(kind.name, root)
    for split in splits:
        records = kind.records(root, split)
        remove_stale_parts(records)
        jobs = [(kind, r) for r in records]
        results = map_files(_convert_one, jobs, options, f"{kind.name} {split}")
        problems = [r.problem for r in results if r.problem]
        problems += [
            f"{p}: label has no matching image"
            for p in orphan_labels(kind.layout, kind.name, root, split)
        ]
        record_split(kind, root, split, kind.info().num_classes, results, problems, report)
    return report
