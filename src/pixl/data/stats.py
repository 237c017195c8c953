"""Per-image class pixel counts of a split, cached as JSON beside the data (for RCS and cards)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pixl.errors import DataError


def class_stats_path(root: str | Path, split: str) -> Path:
    """Where ``pixl data prepare`` writes the class statistics of ``split``."""
    return Path(root) / f"pixl_class_stats_{split}.json"


def count_classes(label: np.ndarray, num_classes: int) -> dict[int, int]:
    """Pixels of each present class (ids >= num_classes, i.e. ignore, are left out)."""
    counts = np.bincount(label.ravel(), minlength=num_classes)[:num_classes]
    return {int(c): int(n) for c, n in enumerate(counts) if n > 0}


@dataclass(frozen=True)
class ClassStats:
    """Class pixel counts of every image of a split (keyed by image stem)."""

    kind: str
    split: str
    num_classes: int
    images: dict[str, dict[int, int]]
    left_out: dict[str, str] = field(default_factory=dict)
    """Images prepare left out of the split (stem -> why, e.g. no label); loaders skip them."""

    @property
    def pixel_counts(self) -> np.ndarray:
        """Total pixels of each class over the split. Shape: [C]."""
        totals = np.zeros(self.num_classes, dtype=np.int64)
        for counts in self.images.values():
            for c, n in counts.items():
                totals[c] += n
        return totals

    def frequencies(self) -> np.ndarray:
        """Pixel fraction of each class among labelled pixels. Shape: [C]."""
        totals = self.pixel_counts.astype(np.float64)
        return totals / max(totals.sum(), 1.0)

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "split": self.split,
            "num_classes": self.num_classes,
            "pixel_counts": self.pixel_counts.tolist(),
            "images": {k: {str(c): n for c, n in v.items()} for k, v in self.images.items()},
            "left_out": dict(sorted(self.left_out.items())),
        }


def build_stats(
    kind: str,
    split: str,
    num_classes: int,
    items: Iterable[tuple[str, dict[int, int]]],
    left_out: dict[str, str] | None = None,
) -> ClassStats:
    return ClassStats(kind, split, num_classes, dict(sorted(items)), dict(left_out or {}))


def save_stats(stats: ClassStats, path: str | Path) -> None:
    """Write atomically (temp file + rename)."""
    path = Path(path)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(stats.to_json(), indent=1))
    os.replace(part, path)


def load_stats(path: str | Path) -> ClassStats:
    """Read a class statistics JSON; a missing or malformed file raises ``DataError``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: class statistics missing; run `pixl data prepare`")
    try:
        raw = json.loads(path.read_text())
        images = {
            name: {int(c): int(n) for c, n in counts.items()}
            for name, counts in raw["images"].items()
        }
        left_out = {str(k): str(v) for k, v in raw.get("left_out", {}).items()}
        return ClassStats(raw["kind"], raw["split"], int(raw["num_classes"]), images, left_out)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DataError(f"{path}: malformed class statistics ({error!r})") from error
