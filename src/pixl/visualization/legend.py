"""Class legends drawn into pictures: a swatch of the class colour and its name, per class present.

``pixl predict``'s colour and overlay outputs get a strip below the image (drawn with PIL, so the
swatches hold the exact palette colour); the prediction grid uses matplotlib's own figure legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pixl.visualization.palette import Palette

SWATCH = 12  # px, border included
PAD = 4  # px around entries and between swatch and name
ROW = SWATCH + 2 * PAD
MIN_WIDTH = 160  # px: narrower pictures are padded on the right so names stay readable
BACKGROUND = (255, 255, 255)
BORDER = (128, 128, 128)  # around each swatch, so a white (or black) class still shows its box
TEXT = (0, 0, 0)


def classes_present(*masks: np.ndarray | None, num_classes: int) -> list[int]:
    """The class ids (< ``num_classes``) found in any of ``masks``, in ascending order; ignored
    pixels and ids beyond the class list are no class. Shape: each mask [H, W] integers."""
    found: set[int] = set()
    for mask in masks:
        if mask is not None:
            found |= {int(v) for v in np.unique(mask) if 0 <= v < num_classes}
    return sorted(found)


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=11)


def legend_strip(
    classes: Sequence[int], class_names: Sequence[str], palette: Palette, width: int
) -> np.ndarray:
    """Entries (swatch + name) laid out left to right, wrapping at ``width``.

    Shape: -> uint8 [rows * ROW, width, 3] (one empty row when ``classes`` is empty).
    """
    font = _font()
    entries = [(palette[c], class_names[c]) for c in classes]
    positions, x, y = [], PAD, 0
    for _, name in entries:
        size = SWATCH + PAD + int(np.ceil(font.getlength(name))) + 2 * PAD
        if x > PAD and x + size > width:  # wrap, unless it is the row's first entry
            x, y = PAD, y + ROW
        positions.append((x, y))
        x += size
    strip = Image.new("RGB", (width, y + ROW), BACKGROUND)
    draw = ImageDraw.Draw(strip)
    for (color, name), (x, y) in zip(entries, positions, strict=True):
        box = (x, y + PAD, x + SWATCH - 1, y + PAD + SWATCH - 1)
        draw.rectangle(box, fill=tuple(color), outline=BORDER)
        draw.text(
            (x + SWATCH + PAD, y + PAD + SWATCH // 2), name, fill=TEXT, font=font, anchor="lm"
        )
    return np.asarray(strip)


def with_legend(
    picture: np.ndarray, classes: Sequence[int], class_names: Sequence[str], palette: Palette
) -> np.ndarray:
    """``picture`` with the legend of ``classes`` below it (the picture itself is not touched;
    a picture narrower than ``MIN_WIDTH`` is padded on the right with the background).

    Shape: picture uint8 [H, W, 3] -> uint8 [H + legend rows, max(W, MIN_WIDTH), 3].
    """
    height, width = picture.shape[:2]
    full = max(width, MIN_WIDTH)
    strip = legend_strip(classes, class_names, palette, full)
    top = np.empty((height, full, 3), dtype=np.uint8)
    top[:] = BACKGROUND
    top[:, :width] = picture
    return np.concatenate([top, strip], axis=0)
