"""Colouring, overlays, and the image / ground truth / prediction grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixl.core import IGNORE_INDEX
from pixl.data import dataset_info
from pixl.data.transforms import normalize_image
from pixl.visualization import (
    PredictionRow,
    colorize,
    overlay,
    palette_lut,
    plot_prediction_grid,
    to_rgb,
)

PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_colorize_uses_palette_and_blacks_out_ignore() -> None:
    mask = np.array([[0, 1], [2, IGNORE_INDEX]])
    rgb = colorize(mask, PALETTE)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[0, 0].tolist() == [255, 0, 0]
    assert rgb[1, 0].tolist() == [0, 0, 255]
    assert rgb[1, 1].tolist() == [0, 0, 0]
    assert colorize(np.array([[7]]), PALETTE)[0, 0].tolist() == [0, 0, 0]  # beyond the palette


def test_cityscapes_palette_is_the_official_one() -> None:
    palette = dataset_info("cityscapes").palette
    assert colorize(np.array([[0, 13]]), palette).tolist() == [[[128, 64, 128], [0, 0, 142]]]


def test_palette_too_large_and_bad_mask_rejected() -> None:
    with pytest.raises(ValueError, match="at most"):
        palette_lut([(0, 0, 0)] * 300)
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        colorize(np.zeros((2, 2, 3), dtype=np.uint8), PALETTE)


def test_overlay_blends_and_keeps_ignored_pixels() -> None:
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    mask = np.array([[0, IGNORE_INDEX], [1, 1]])
    out = overlay(image, mask, PALETTE, alpha=0.5)
    assert out[0, 0].tolist() == [178, 50, 50]  # 0.5 * 100 + 0.5 * (255, 0, 0), rounded
    assert out[0, 1].tolist() == [100, 100, 100]
    assert overlay(image, mask, PALETTE, alpha=1.0)[1, 0].tolist() == [0, 255, 0]
    with pytest.raises(ValueError, match="differ in size"):
        overlay(image, np.zeros((3, 3), dtype=np.int64), PALETTE)


def test_to_rgb_undoes_normalisation() -> None:
    image = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    assert np.array_equal(to_rgb(normalize_image(image)), image)


def test_prediction_grid_is_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [
        PredictionRow(
            name=f"img{i}",
            image=rng.integers(0, 256, (32, 64, 3), dtype=np.uint8),
            label=rng.integers(0, 3, (32, 64)) if i == 0 else None,
            prediction=rng.integers(0, 3, (32, 64)),
        )
        for i in range(2)
    ]
    path = plot_prediction_grid(rows, PALETTE, tmp_path / "out" / "grid.png")
    assert path.stat().st_size > 1000
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.size[0] > 200 and picture.size[1] > 100
    with pytest.raises(ValueError, match="no samples"):
        plot_prediction_grid([], PALETTE, tmp_path / "empty.png")
