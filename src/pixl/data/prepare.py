"""``pixl data prepare``: check a dataset's layout, convert labels to train ids, count classes.

Conversions run on all cores; every output is written atomically, so an interrupted run leaves
no half-written file and a re-run skips what is done. Problems with single files are collected
and reported together at the end; a missing or empty folder stops at once.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import track

from pixl.data.info import (
    CITYSCAPES_ID_TO_TRAINID,
    SYNTHIA_ID_TO_TRAINID,
    dataset_info,
    lookup_table,
)
from pixl.data.io import (
    PART_SUFFIX,
    image_size,
    read_indexed_label,
    read_synthia_label,
    read_train_ids,
    write_png_atomic,
)
from pixl.data.layouts import PREPARE_SPLITS, Record, check_layout, list_records, orphan_labels
from pixl.data.stats import build_stats, class_stats_path, count_classes, save_stats
from pixl.errors import DataError

_TABLES = {
    "cityscapes": lookup_table(CITYSCAPES_ID_TO_TRAINID, 34),
    "gta5": lookup_table(CITYSCAPES_ID_TO_TRAINID, 34),
    "synthia": lookup_table(SYNTHIA_ID_TO_TRAINID, 23),
}


@dataclass
class PrepareReport:
    """What a prepare run did; ``problems`` holds one line per bad file."""

    kind: str
    root: Path
    converted: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    stats_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Result:
    name: str
    counts: dict[int, int] | None
    problem: str | None
    converted: bool


def convert_label(kind: str, raw: np.ndarray, path: Path) -> np.ndarray:
    """Map raw ids to train ids with the official table; unknown ids raise ``DataError``.

    Shape: [H, W] int -> [H, W] uint8.
    """
    table = _TABLES[kind]
    values = np.unique(raw)
    bad = [int(v) for v in values if v < 0 or v >= len(table) or table[v] < 0]
    if bad:
        raise DataError(f"{path}: label ids {bad[:8]} are outside the {kind} label table")
    return table[raw].astype(np.uint8)


def _convert_one(kind: str, record: Record) -> _Result:
    num_classes = dataset_info(kind).num_classes
    if record.label.is_file():
        try:
            return _Result(
                record.name, count_classes(read_train_ids(record.label), num_classes), None, False
            )
        except DataError:
            pass  # unreadable output: convert again
    try:
        if record.raw_label is None or not record.raw_label.is_file():
            raise DataError(f"{record.raw_label}: label missing for image {record.image.name}")
        height, width = image_size(record.image)
        reader = read_synthia_label if kind == "synthia" else read_indexed_label
        raw = reader(record.raw_label)
        if raw.shape != (height, width):
            raise DataError(
                f"{record.raw_label}: label size {raw.shape} differs from image size "
                f"{(height, width)} of {record.image.name}"
            )
        train_ids = convert_label(kind, raw, record.raw_label)
        write_png_atomic(record.label, train_ids)
    except DataError as error:
        return _Result(record.name, None, str(error), False)
    return _Result(record.name, count_classes(train_ids, num_classes), None, True)


def _convert_star(args: tuple[str, Record]) -> _Result:
    return _convert_one(*args)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _remove_stale_parts(records: list[Record]) -> None:
    for folder in {r.label.parent for r in records}:
        for part in folder.glob(f"*{PART_SUFFIX}"):
            part.unlink(missing_ok=True)


def _run(
    kind: str, records: list[Record], workers: int, progress: bool, label: str
) -> list[_Result]:
    jobs = [(kind, r) for r in records]
    if workers <= 1 or len(jobs) < 8:
        results = map(_convert_star, jobs)
        return list(track(results, total=len(jobs), description=label, disable=not progress))
    chunk = max(1, len(jobs) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_convert_star, jobs, chunksize=chunk)
        return list(track(results, total=len(jobs), description=label, disable=not progress))


def _prepare_split(
    kind: str, root: Path, split: str, workers: int, progress: bool, report: PrepareReport
) -> None:
    records = list_records(kind, root, split)
    _remove_stale_parts(records)
    results = _run(kind, records, workers, progress, f"{kind} {split}")
    problems = [r.problem for r in results if r.problem]
    problems += [f"{p}: label has no matching image" for p in orphan_labels(kind, root, split)]
    report.problems.extend(problems)
    report.converted += sum(r.converted for r in results)
    report.skipped += sum(r.problem is None and not r.converted for r in results)
    if not problems:  # statistics only of a complete, clean split
        counts = [(r.name, r.counts) for r in results if r.counts is not None]
        stats = build_stats(kind, split, dataset_info(kind).num_classes, counts)
        path = class_stats_path(root, split)
        save_stats(stats, path)
        report.stats_files.append(path)


def prepare_dataset(
    kind: str,
    root: str | Path,
    *,
    workers: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> PrepareReport:
    """Check, convert and count ``kind`` at ``root``; DigitScenes is generated instead.

    Raises ``DataError`` for a missing root or folder (listing all missing folders) or an empty
    split; problems with single files are collected in the report and the run goes on.
    """
    start = time.perf_counter()
    root = Path(root)
    workers = default_workers() if workers is None else max(1, int(workers))
    dataset_info(kind)
    if kind == "digits":
        from pixl.data.digits import generate_digit_scenes

        report = generate_digit_scenes(root, seed=seed, workers=workers, progress=progress)
        report.seconds = time.perf_counter() - start
        return report
    check_layout(kind, root, PREPARE_SPLITS[kind])
    report = PrepareReport(kind, root)
    for split in PREPARE_SPLITS[kind]:
        _prepare_split(kind, root, split, workers, progress, report)
    report.seconds = time.perf_counter() - start
    return report


def is_prepared(kind: str, root: str | Path) -> bool:
    """Cheap check: the class statistics of every prepared split exist (written last)."""
    dataset_info(kind)
    root = Path(root)
    done = all(class_stats_path(root, split).is_file() for split in PREPARE_SPLITS[kind])
    if kind == "digits":
        from pixl.data.digits import is_current

        return done and (root / "dataset_card.md").is_file() and is_current(root)
    return done
