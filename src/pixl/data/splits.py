"""Semi-supervised splits: lists of labelled Cityscapes train images, shipped with the package.

Each file holds one image stem per line (``aachen_000000_000019``); ``#`` starts a comment.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from pixl.errors import DataError

SHIPPED_SPLITS: dict[str, str] = {
    "cityscapes_1_30": "cityscapes_1_30.txt",
    "cityscapes_1_8": "cityscapes_1_8.txt",
    "cityscapes_1_4": "cityscapes_1_4.txt",
}


def parse_subset(text: str) -> list[str]:
    """Stems of a subset file, in order, without comments, blanks or duplicates."""
    stems: list[str] = []
    for line in text.splitlines():
        stem = line.split("#", 1)[0].strip()
        if stem and stem not in stems:
            stems.append(stem)
    return stems


def read_subset(subset: str | Path) -> list[str]:
    """Stems of a shipped split (by name) or of a text file; an empty list is an error."""
    name = str(subset)
    if name in SHIPPED_SPLITS:
        text = resources.files("pixl.data").joinpath("splits", SHIPPED_SPLITS[name]).read_text()
    else:
        path = Path(subset)
        if not path.is_file():
            shipped = ", ".join(SHIPPED_SPLITS)
            raise DataError(f"{path}: subset file not found (shipped splits: {shipped})")
        text = path.read_text()
    stems = parse_subset(text)
    if not stems:
        raise DataError(f"{subset}: subset file lists no images")
    return stems


def draw_nested_subsets(stems: list[str], counts: list[int], *, seed: int = 0) -> list[list[str]]:
    """Nested seeded subsets: ``counts[0]`` of sorted ``stems``, then ``counts[1]`` of that...

    How the shipped 1/8 and 1/30 lists were drawn from the 1/4 list (``seed=0``).
    """
    rng = np.random.default_rng(seed)
    pool, out = sorted(stems), []
    for count in counts:
        if count > len(pool):
            raise DataError(f"cannot draw {count} images from a pool of {len(pool)}")
        pool = sorted(pool[i] for i in rng.choice(len(pool), count, replace=False))
        out.append(pool)
    return out
