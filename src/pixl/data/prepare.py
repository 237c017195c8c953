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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from rich.progress import track

from pixl.core import IGNORE_INDEX
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
    """One image's outcome: its class counts (None on a problem or when left out), the problem,
    whether written, and what tolerance fixed (ids mapped to ignore, a resize, left out)."""

    name: str
    counts: dict[int, int] | None
    problem: str | None
    converted: bool
    outside: dict[int, int] = field(default_factory=dict)
    """Raw ids outside the label table -> pixels, mapped to ignore."""
    resized: str | None = None
    """``label HxW -> image HxW`` when the label was brought to the image's size."""
    left_out: str | None = None
    """Why the image is left out of the split (no label)."""


def convert_label(
    kind: DatasetKind, raw: np.ndarray, path: Path, *, strict: bool = True
) -> tuple[np.ndarray, dict[int, int]]:
    """Map raw ids to train ids with the kind's table. Ids outside it raise ``DataError`` when
    ``strict``, else become ignore (as the reference GTA5/SYNTHIA converters do) and are returned
    with their pixel counts.

    Shape: [H, W] int -> ([H, W] uint8, {raw id: pixels}).
    """
    table = kind.label_table
    assert table is not None, f"{kind.name} has no label table"
    values, counts = np.unique(raw, return_counts=True)
    outside = {
        int(v): int(n) for v, n in zip(values, counts, strict=True)
        if v < 0 or v >= len(table) or table[v] < 0
    }  # fmt: skip
    if outside and strict:
        raise DataError(
            f"{path}: label ids {list(outside)[:8]} are outside the {kind.name} label table"
        )
    if not outside:
        return table[raw].astype(np.uint8), {}
    inside = (raw >= 0) & (raw < len(table))
    train_ids = np.full(raw.shape, IGNORE_INDEX, dtype=np.uint8)
    mapped = table[np.where(inside, raw, 0)]
    keep = inside & (mapped >= 0)
    train_ids[keep] = mapped[keep]
    return train_ids, outside


def check_size(record: Record, label: np.ndarray, label_path: Path) -> None:
    """The label must be as large as its image (read from the image header, fully verified)."""
    height, width = image_size(record.image)
    if label.shape != (height, width):
        raise DataError(
            f"{label_path}: label size {label.shape} differs from image size "
            f"{(height, width)} of {record.image.name}"
        )


def fit_to_image(record: Record, label: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The label brought to its image's size with nearest-neighbour resizing, as the reference
    pipelines do (mmseg resizes a GTA5 label to its image); returns what changed or None.

    Shape: [h, w] -> [H, W] of the image.
    """
    height, width = image_size(record.image)
    if label.shape == (height, width):
        return label, None
    resized = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
    change = f"label {label.shape[0]}x{label.shape[1]} -> image {height}x{width}"
    return resized, change


def _convert_one(kind: DatasetKind, record: Record, strict: bool = True) -> FileResult:
    num_classes = kind.info().num_classes
    if record.label.is_file():
        try:
            counts = count_classes(kind.read_label(record.label), num_classes)
            return FileResult(record.name, counts, None, False)
        except DataError:
            pass  # unreadable output: convert again
    if record.raw_label is None or not record.raw_label.is_file():
        missing = f"{record.raw_label}: label missing for image {record.image.name}"
        if strict:
            return FileResult(record.name, None, missing, False)
        try:
            image_size(record.image)
        except DataError as error:  # a corrupt image stays a problem
            return FileResult(record.name, None, str(error), False)
        return FileResult(record.name, None, None, False, left_out="no label")
    try:
        raw = kind.read_raw_label(record.raw_label)
        resized = None
        if strict:
            check_size(record, raw, record.raw_label)
        else:
            raw, resized = fit_to_image(record, raw)
        train_ids, outside = convert_label(kind, raw, record.raw_label, strict=strict)
        write_png_atomic(record.label, train_ids)
    except DataError as error:
        return FileResult(record.name, None, str(error), False)
    counts = count_classes(train_ids, num_classes)
    return FileResult(record.name, counts, None, True, outside, resized)


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
    report.skipped += sum(
        r.problem is None and r.left_out is None and not r.converted for r in results
    )
    report.warnings.extend(tolerance_warnings(kind.name, split, results))
    report.resized += [f"{split}/{r.name}" for r in results if r.resized]
    report.left_out += [f"{split}/{r.name}" for r in results if r.left_out]
    if not problems:  # statistics only of a complete, clean split
        counts = [(r.name, r.counts) for r in results if r.counts is not None]
        left_out = {r.name: r.left_out for r in results if r.left_out}
        path = class_stats_path(root, split)
        save_stats(build_stats(kind.name, split, num_classes, counts, left_out), path)
        report.stats_files.append(path)


def tolerance_warnings(kind: str, split: str, results: list[FileResult]) -> list[str]:
    """One line for all ids mapped to ignore, one per resized label, one per image left out."""
    lines = []
    outside: dict[int, int] = {}
    files = 0
    for r in results:
        files += bool(r.outside)
        for value, pixels in r.outside.items():
            outside[value] = outside.get(value, 0) + pixels
    if outside:
        ids = ", ".join(f"{v} ({n} px)" for v, n in sorted(outside.items())[:12])
        more = "" if len(outside) <= 12 else f" and {len(outside) - 12} more"
        lines.append(
            f"{kind} {split}: {sum(outside.values())} pixels in {files} labels have ids outside "
            f"the label table, mapped to ignore: {ids}{more}"
        )
    lines += [f"{kind} {split}/{r.name}: {r.resized} (nearest)" for r in results if r.resized]
    lines += [
        f"{kind} {split}/{r.name}: {r.left_out}; left out of the split"
        for r in results
        if r.left_out
    ]
    return lines


def convert_official(kind: DatasetKind, root: Path, options: PrepareOptions) -> PrepareReport:
    """Prepare step of Cityscapes, GTA5 and SYNTHIA: convert raw labels, count classes.

    Not ``strict`` (the default), the release as shipped is taken as the reference converters
    take it: ids outside the table become ignore, a label of another size is resized to its
    image (nearest), an image without a label is left out of the split and a label without an
    image is passed over, each reported as a warning.
    """
    splits = kind.splits_to_prepare(root)
    check_layout(kind.layout, kind.name, root, splits)
    report = PrepareReport(kind.name, root)
    for split in splits:
        records = kind.records(root, split)
        remove_stale_parts(records)
        jobs = [(kind, r, options.strict) for r in records]
        results = map_files(_convert_one, jobs, options, f"{kind.name} {split}")
        problems = [r.problem for r in results if r.problem]
        orphans = [
            f"{p}: label has no matching image"
            for p in orphan_labels(kind.layout, kind.name, root, split)
        ]
        if options.strict:
            problems += orphans
        else:
            report.warnings += [f"{kind.name} {split}: {line}; passed over" for line in orphans]
        record_split(kind, root, split, kind.info().num_classes, results, problems, report)
    return report
