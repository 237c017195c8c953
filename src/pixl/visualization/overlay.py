"""Overlays of label maps on images, and image / ground truth / prediction grids (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor

from pixl.core import IGNORE_INDEX
from pixl.data.transforms import denormalize
from pixl.visualization.palette import Palette, colorize


def to_rgb(image: Tensor) -> np.ndarray:
    """A normalised model input back to a displayable image.

    Shape: image [3, H, W] float (ImageNet-normalised) -> uint8 [H, W, 3] RGB.
    """
    rgb = denormalize(image[None].float())[0].clamp(0, 1).mul(255).round().byte()
    return rgb.permute(1, 2, 0).cpu().numpy()


def overlay(
    image: np.ndarray, mask: np.ndarray, palette: Palette, alpha: float = 0.5
) -> np.ndarray:
    """Blend class colours over an image; ignored pixels show the image unchanged.

    Shape: image uint8 [H, W, 3], mask [H, W] -> uint8 [H, W, 3].
    """
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    colors = colorize(mask, palette).astype(np.float32)
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colors
    keep = (mask == IGNORE_INDEX) | (mask >= len(palette))
    blended[keep] = image[keep]
    return blended.round().clip(0, 255).astype(np.uint8)


@dataclass(frozen=True)
class PredictionRow:
    """One row of a prediction grid: an RGB image, its ground truth (or None) and a prediction."""

    name: str
    image: np.ndarray
    label: np.ndarray | None
    prediction: np.ndarray


def plot_prediction_grid(
    rows: Sequence[PredictionRow], palette: Palette, path: str | Path, *, alpha: float = 0.6
) -> Path:
    """Write a PNG grid, one row per sample: image | ground-truth overlay | prediction overlay."""
    if not rows:
        raise ValueError("no samples to plot")
    columns = 3
    height = 3.0 * rows[0].image.shape[0] / rows[0].image.shape[1]
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(3.2 * columns, height * len(rows) + 0.4), squeeze=False
    )
    for axis_row, row in zip(axes, rows, strict=True):
        panels = [
            (row.image, row.name),
            (
                overlay(row.image, row.label, palette, alpha) if row.label is not None else None,
                "ground truth",
            ),
            (overlay(row.image, row.prediction, palette, alpha), "prediction"),
        ]
        for axis, (picture, title) in zip(axis_row, panels, strict=True):
            axis.axis("off")
            axis.set_title(title, fontsize=8)
            if picture is not None:
                axis.imshow(picture)
    figure.tight_layout()
    return save_figure(figure, path)


def save_figure(figure: plt.Figure, path: str | Path) -> Path:
    """Write ``figure`` as PNG (parent folders created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
