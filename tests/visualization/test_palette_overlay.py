"""Colouring, overlays, class legends, and the image / ground truth / prediction grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from pixl.core import IGNORE_INDEX
from pixl.data import dataset_info
from pixl.data.transforms import normalize_image
from pixl.visualization import (
    PredictionRow,
    classes_present,
    colorize,
    overlay,
    palette_lut,
    plot_prediction_grid,
    to_rgb,
    with_legend,
)
from pixl.visualization.legend import MIN_WIDTH, ROW
from pixl.visualization.overlay import ERROR_COLOUR, RIGHT_COLOUR, error_map

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


def has_block(picture: np.ndarray, color: tuple[int, int, int], size: int = 3) -> bool:
    """Whether ``picture`` holds a ``size`` x ``size`` square of exactly ``color`` (a swatch)."""
    exact = (picture[..., :3] == np.asarray(color)).all(-1)
    return bool(sliding_window_view(exact, (size, size)).all(axis=(-1, -2)).any())


def test_overlay_is_an_alpha_blend_of_the_legend_colour_on_any_photo() -> None:
    mask = np.array([[0, IGNORE_INDEX], [1, 2]])
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    out = overlay(image, mask, PALETTE, alpha=0.5)
    for (row, col), cls in {(0, 0): 0, (1, 0): 1, (1, 1): 2}.items():
        expected = np.round(0.5 * 100 + 0.5 * np.asarray(PALETTE[cls]))
        assert out[row, col].tolist() == expected.tolist()
    assert np.array_equal(overlay(image, mask, PALETTE, alpha=0.0), image)
    with pytest.raises(ValueError, match="differ in size"):
        overlay(image, np.zeros((3, 3), dtype=np.int64), PALETTE)
    # One class reads as its legend colour on a green and on a yellow photo alike: of the palette,
    # its own colour is the nearest to the painted pixel (a hue blend made it brown and peach).
    legend = [(0, 0, 0), (220, 40, 40), (40, 90, 220)]  # background, red square, blue bar
    for photo in ((90, 160, 90), (230, 230, 40)):
        painted = overlay(np.full((1, 1, 3), photo, np.uint8), np.ones((1, 1), int), legend, 0.6)
        distances = [np.abs(painted[0, 0].astype(int) - np.asarray(c)).sum() for c in legend]
        assert int(np.argmin(distances)) == 1


def test_ignored_pixels_are_the_photo_unchanged_and_background_is_painted() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    mask = rng.integers(0, 3, (16, 16))
    mask[::2] = IGNORE_INDEX
    mask[1, :4] = 7  # beyond the palette: no class either
    out = overlay(image, mask, PALETTE, alpha=0.7)
    untouched = (mask == IGNORE_INDEX) | (mask == 7)
    assert np.array_equal(out[untouched], image[untouched])
    assert (out[~untouched] != image[~untouched]).any(-1).mean() > 0.9
    # Class 0 (background) is painted too: a missed object does not keep its own colour.
    background, colour = mask == 0, np.asarray(PALETTE[0])
    before = np.abs(image[background].astype(int) - colour).sum(-1)
    after = np.abs(out[background].astype(int) - colour).sum(-1)
    assert (after <= 0.31 * before + 3).all()


def test_error_map_marks_wrong_pixels_and_leaves_unscored_grey() -> None:
    label = np.array([[1, 1], [0, IGNORE_INDEX]])
    prediction = np.array([[1, 0], [0, 2]])  # (0, 1): a square predicted as background
    picture = error_map(label, prediction)
    assert picture[0, 1].tolist() == list(ERROR_COLOUR)
    assert picture[0, 0].tolist() == picture[1, 0].tolist() == list(RIGHT_COLOUR)
    assert picture[1, 1].tolist() == [128, 128, 128]


def test_legend_shows_the_colours_of_the_classes_present_below_the_picture() -> None:
    picture = colorize(np.array([[0, 2], [2, 0]]).repeat(20, 0).repeat(100, 1), PALETTE)
    present = classes_present(np.array([[0, 2, IGNORE_INDEX, 9]]), num_classes=3)
    assert present == [0, 2]
    out = with_legend(picture, present, ["red thing", "green thing", "blue thing"], PALETTE)
    height, width = picture.shape[:2]
    assert out.shape[0] > height and out.shape[1] == width  # 200 px: wide enough, no padding
    assert np.array_equal(out[:height], picture)
    strip = out[height:]
    assert has_block(strip, PALETTE[0]) and has_block(strip, PALETTE[2])
    assert not has_block(strip, PALETTE[1])
    assert (strip.max(-1) < 100).sum() > 20  # the names: dark text on the white strip


def test_legend_of_a_narrow_picture_is_padded_and_wraps() -> None:
    picture = np.zeros((8, 10, 3), dtype=np.uint8)
    names = ["a rather long class name", "another long class name", "third"]
    out = with_legend(picture, [0, 1, 2], names, PALETTE)
    assert out.shape[1] == MIN_WIDTH and (out[:8, 10:] == 255).all()
    assert out.shape[0] > 8 + 2 * ROW  # three long names do not fit on one row
    assert all(has_block(out[8:], color) for color in PALETTE)


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


def test_prediction_grid_has_a_legend_of_the_classes_shown(tmp_path: Path) -> None:
    grey = np.full((32, 64, 3), 120, dtype=np.uint8)
    label = np.where(np.arange(64) < 32, 0, IGNORE_INDEX)[None].repeat(32, 0)
    rows = [PredictionRow("img", grey, label, np.full((32, 64), 2))]  # classes 0 and 2, not 1
    names = ["red", "green", "blue"]
    with Image.open(
        plot_prediction_grid(rows, PALETTE, tmp_path / "g.png", class_names=names)
    ) as f:
        picture = np.asarray(f.convert("RGB"))
    assert has_block(picture, PALETTE[0]) and has_block(picture, PALETTE[2])
    assert not has_block(picture, PALETTE[1])
    with Image.open(plot_prediction_grid(rows, PALETTE, tmp_path / "plain.png")) as f:
        plain = np.asarray(f.convert("RGB"))
    assert not any(has_block(plain, color) for color in PALETTE)  # the swatches are the legend's
