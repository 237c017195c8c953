"""Colouring of label maps (train ids -> RGB) with a dataset's palette (``dataset_info(kind).palette``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixl.core import IGNORE_INDEX

Palette = Sequence[tuple[int, int, int]]

IGNORE_COLOR: tuple[int, int, int] = (0, 0, 0)


def palette_lut(palette: Palette, ignore_color: tuple[int, int, int] = IGNORE_COLOR) -> np.ndarray:
    """A [256, 3] uint8 lookup table: class id -> colour, every other value -> ``ignore_color``."""
    if len(palette) > IGNORE_INDEX:
        raise ValueError(f"a palette holds at most {IGNORE_INDEX} classes, got {len(palette)}")
    lut = np.tile(np.asarray(ignore_color, dtype=np.uint8), (256, 1))
    lut[: len(palette)] = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    return lut


def colorize(mask: np.ndarray, palette: Palette) -> np.ndarray:
    """Colour a label map; ``IGNORE_INDEX`` (and any id beyond the palette) is black.

    Shape: mask [H, W] integer class ids -> uint8 [H, W, 3] RGB.
    """
    if mask.ndim != 2:
        raise ValueError(f"expected a [H, W] label map, got shape {mask.shape}")
    return palette_lut(palette)[np.clip(mask, 0, 255).astype(np.uint8)]
