"""Overlays of label maps on images, and image / ground truth / prediction grids (matplotlib)
with a class legend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch
from torch import Tensor

from pixl.core import IGNORE_INDEX
from pixl.data.transforms import denormalize
from pixl.visualization.legend import classes_present
from pixl.visualization.palette import Palette, colorize

LEGEND_COLUMNS = 6  # entries per legend row of the prediction grid


def to_rgb(image: Tensor) -> np.ndarray:
    """A normalised model input back to a displayable image.

    Shape: image [3, H, W] float (ImageNet-normalised) -> uint8 [H, W, 3] RGB.
    """
    rgb = denormalize(image[None].float())[0].clamp(0, 1).mul(255).round().byte()
    return rgb.permute(1, 2, 0).cpu().numpy()


def overlay(
    image: np.ndarray, mask: np.ndarray, palette: Palette, alpha: float = 0.5
) -> np.ndarray:
    """Paint class colours over an image: an alpha blend, ``(1 - alpha) * photo + alpha * colour``.

    Every class pixel, background included, moves ``alpha`` of the way to its class's colour in
    the legend, whatever the photo's own colour (so a class reads as one colour on any photo, and
    a missed object does not keep its own colour). Ignored pixels, and ids beyond the palette,
    are the image unchanged.
    Shape: image uint8 [H, W, 3], mask [H, W] -> uint8 [H, W, 3].
    """
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    colors = colorize(mask, palette).astype(np.float32)
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colors
    keep = (mask == IGNORE_INDEX) | (mask >= len(palette))
    blended[keep] = image[keep]
    return blended.round().clip(0, 255).astype(np.uint8)


ERROR_COLOUR = (255, 0, 255)  # magenta: a wrong pixel
RIGHT_COLOUR = (0, 0, 0)
UNSCORED_COLOUR = (128, 128, 128)


def error_map(label: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Where a prediction is wrong: magenta where it differs from a labelled pixel (a missed
    object predicted as background too), black where it is right, grey where nothing is scored.
    Shape: label [H, W], prediction [H, W] -> uint8 [H, W, 3]."""
    picture = np.empty((*label.shape, 3), dtype=np.uint8)
    picture[:] = RIGHT_COLOUR
    picture[prediction != label] = ERROR_COLOUR
    picture[label == IGNORE_INDEX] = UNSCORED_COLOUR
    return picture


@dataclass(frozen=True)
class PredictionRow:
    """One row of a prediction grid: an RGB image, its ground truth (or None) and a prediction."""

    name: str
    image: np.ndarray
    label: np.ndarray | None
    prediction: np.ndarray


def plot_prediction_grid(
    rows: Sequence[PredictionRow],
    palette: Palette,
    path: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    alpha: float = 0.6,
) -> Path:
    """Write a PNG grid, one row per sample: image | ground-truth overlay | prediction overlay |
    errors (``error_map``, when there is a label); ground truth and prediction in the same
    colours; with ``class_names``, a legend below it of the classes present in any label or
    prediction."""
    if not rows:
        raise ValueError("no samples to plot")
    columns = 4
    height = 3.0 * rows[0].image.shape[0] / rows[0].image.shape[1]
    present = []
    if class_names is not None:
        masks = [m for row in rows for m in (row.label, row.prediction)]
        present = classes_present(*masks, num_classes=min(len(class_names), len(palette)))
    legend_rows = -(-len(present) // LEGEND_COLUMNS)
    figure, axes = plt.subplots(
        len(rows),
        columns,
        figsize=(3.2 * columns, height * len(rows) + 0.4 + 0.22 * legend_rows),
        squeeze=False,
    )
    for axis_row, row in zip(axes, rows, strict=True):
        panels = [
            (row.image, row.name),
            (
                overlay(row.image, row.label, palette, alpha) if row.label is not None else None,
                "ground truth",
            ),
            (overlay(row.image, row.prediction, palette, alpha), "prediction"),
            (
                error_map(row.label, row.prediction) if row.label is not None else None,
                "errors (magenta)",
            ),
        ]
        for axis, (picture, title) in zip(axis_row, panels, strict=True):
            axis.axis("off")
            axis.set_title(title, fontsize=8)
            if picture is not None:
                axis.imshow(picture)
    if present and class_names is not None:
        handles = [
            Patch(facecolor=np.asarray(palette[c]) / 255, edgecolor="0.5", label=class_names[c])
            for c in present
        ]
        figure.legend(
            handles=handles,
            loc="lower center",
            ncol=min(len(handles), LEGEND_COLUMNS),
            fontsize=8,
            frameon=False,
            handlelength=2.5,
            handleheight=1.5,
        )
        figure.tight_layout(rect=(0, 0.22 * legend_rows / figure.get_figheight() + 0.01, 1, 1))
    else:
        figure.tight_layout()
    return save_figure(figure, path)


def save_figure(figure: plt.Figure, path: str | Path) -> Path:
    """Write ``figure`` as PNG (parent folders created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
