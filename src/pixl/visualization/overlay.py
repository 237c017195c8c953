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


def _luminance(rgb: np.ndarray) -> np.ndarray:
    # The weights of the W3C compositing spec's non-separable blend modes.
    return rgb @ np.array([0.3, 0.59, 0.11], dtype=np.float32)


def _set_luminance(colors: np.ndarray, luminance: np.ndarray) -> np.ndarray:
    """The colours moved to the given luminance, hue kept: SetLum + ClipColor of the W3C
    compositing spec ("color" blend mode). Shape: colors [..., 3] in [0, 1], luminance [...]."""
    shifted = colors + (luminance - _luminance(colors))[..., None]
    lum = _luminance(shifted)[..., None]
    low, high = shifted.min(-1, keepdims=True), shifted.max(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shifted = np.where(low < 0, lum + (shifted - lum) * lum / (lum - low), shifted)
        shifted = np.where(high > 1, lum + (shifted - lum) * (1 - lum) / (high - lum), shifted)
    return np.nan_to_num(shifted).clip(0, 1)


def overlay(
    image: np.ndarray, mask: np.ndarray, palette: Palette, alpha: float = 0.5
) -> np.ndarray:
    """Tint an image with class colours, keeping it readable.

    Each class pixel is blended (weight ``alpha``) with its class colour moved to the photo pixel's
    luminance: the class shows as hue, the photo keeps its light and dark, and a black (or any dark)
    class colour does not darken it. Ignored pixels, and ids beyond the palette, are the image
    unchanged.
    Shape: image uint8 [H, W, 3], mask [H, W] -> uint8 [H, W, 3].
    """
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    photo = image.astype(np.float32) / 255
    colors = colorize(mask, palette).astype(np.float32) / 255
    tint = _set_luminance(colors, _luminance(photo))
    blended = 255 * ((1 - alpha) * photo + alpha * tint)
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
    rows: Sequence[PredictionRow],
    palette: Palette,
    path: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    alpha: float = 0.6,
) -> Path:
    """Write a PNG grid, one row per sample: image | ground-truth overlay | prediction overlay;
    with ``class_names``, a legend below it of the classes present in any label or prediction."""
    if not rows:
        raise ValueError("no samples to plot")
    columns = 3
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
