"""``DatasetKind``: everything the code needs to know about one kind of dataset, in one place.

The instances live in ``pixl.data.kinds``; the loaders, ``pixl data prepare``, the config schema
and the CLI read them instead of branching on kind names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pixl.data.info import DatasetInfo
from pixl.data.io import read_indexed_label, read_train_ids
from pixl.data.layouts import Layout, Record, list_records
from pixl.data.report import PrepareOptions, PrepareReport
from pixl.data.stats import class_stats_path
from pixl.errors import DataError

PrepareStep = Callable[["DatasetKind", Path, PrepareOptions], PrepareReport]


@dataclass(frozen=True)
class DatasetKind:
    """One dataset kind: layout, label encoding, classes, splits and prepare step."""

    name: str
    summary: str
    """One line for ``pixl data prepare --help``."""
    layout: Layout
    splits: tuple[str, ...] | None
    """The split names; None: every folder under the layout's images folder (a user's data)."""
    prepare_splits: tuple[str, ...] | None
    """The splits prepare converts and counts; None: every split."""
    prepare_step: PrepareStep
    classes: DatasetInfo | None = None
    """Fixed classes; None: ``read_classes(root)`` reads them from the dataset folder."""
    read_classes: Callable[[Path], DatasetInfo] | None = None
    label_table: np.ndarray | None = field(default=None, compare=False)
    """Raw label id -> train id (-1: not in the table), for kinds whose labels prepare converts."""
    read_raw_label: Callable[[Path], np.ndarray] = read_indexed_label
    read_label: Callable[[Path], np.ndarray] = read_train_ids
    """Reads one train-id label file as uint8 ``[H, W]``."""
    prepared_check: Callable[[Path], bool] | None = None
    """A kind's own extra test that a prepared folder is current (DigitScenes' generator)."""

    def info(self, root: str | Path | None = None) -> DatasetInfo:
        """The classes of this kind (of the dataset at ``root`` when they come from it)."""
        if self.classes is not None:
            return self.classes
        if root is None or self.read_classes is None:
            raise DataError(f"dataset kind {self.name!r} reads its classes from the dataset root")
        return self.read_classes(Path(root))

    def split_names(self, root: str | Path | None = None) -> tuple[str, ...]:
        """The splits of this kind (found under ``root`` when the kind does not fix them)."""
        if self.splits is not None:
            return self.splits
        if root is None:
            return ()
        image_dir = Path(root) / self.layout.images.split("{split}")[0]
        if not image_dir.is_dir():
            return ()
        return tuple(sorted(p.name for p in image_dir.iterdir() if p.is_dir()))

    def check_split(self, split: str, root: str | Path | None = None) -> None:
        """Raise ``DataError`` when ``split`` is not one of this kind's splits."""
        if self.splits is None:
            if not split or "/" in split or split in (".", ".."):
                raise DataError(f"{self.name} split {split!r}: expected a folder name")
            return
        if split not in self.splits:
            expected = ", ".join(self.splits)
            raise DataError(f"{self.name} has no split {split!r}; expected one of {expected}")

    def splits_to_prepare(self, root: str | Path) -> tuple[str, ...]:
        found = self.prepare_splits if self.prepare_splits is not None else self.split_names(root)
        if not found:
            folder = Path(root) / self.layout.images.split("{split}")[0]
            raise DataError(f"{folder}: no split folders (e.g. {folder / 'train'})")
        return found

    def records(self, root: str | Path, split: str, *, labels: bool = True) -> list[Record]:
        """Every image of ``split`` with its label paths (which may not exist yet)."""
        self.check_split(split, root)
        return list_records(self.layout, self.name, root, split, labels=labels)

    def prepare(self, root: str | Path, options: PrepareOptions) -> PrepareReport:
        """Check, convert (or generate) and count the dataset at ``root``."""
        return self.prepare_step(self, Path(root), options)

    def is_prepared(self, root: str | Path) -> bool:
        """Cheap check: the class statistics of every prepared split exist (written last)."""
        root = Path(root)
        if not root.is_dir():
            return False
        try:
            splits = self.splits_to_prepare(root)
        except (DataError, OSError):
            return False
        done = all(class_stats_path(root, split).is_file() for split in splits)
        return done and (self.prepared_check is None or self.prepared_check(root))
