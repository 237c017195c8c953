"""`pixl predict`: the four formats, original size, names the official evaluator matches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.fakes import SIZE, fake_config, write_fake_cityscapes, write_weights
from pixl.cli import main
from pixl.data import dataset_info
from pixl.visualization.legend import MIN_WIDTH
from visualization.test_palette_overlay import has_block

LABEL_IDS = {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("predict_cli")
    root = write_fake_cityscapes(base / "cityscapes")
    return {
        "images": root / "leftImg8bit" / "val",
        "weights": write_weights(base / "export", fake_config(root)),
        "digits": write_weights(base / "digits", fake_config(base / "nowhere", kind="digits")),
    }


def _predict(
    setup: dict[str, Path], output: Path, fmt: str, source: Path | None = None, *extra: str
) -> int:
    source = source or setup["images"]
    return main(
        [
            "predict",
            "--checkpoint",
            str(setup["weights"]),
            "--input",
            str(source),
            "--output",
            str(output),
            "--format",
            fmt,
            *extra,
        ]
    )


@pytest.mark.parametrize("fmt", ["trainid", "labelid", "color", "overlay"])
def test_every_format_at_original_size(setup: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    assert _predict(setup, tmp_path, fmt) == 0
    written = sorted(tmp_path.rglob("*.png"))
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "aachen/aachen_000000_000019_leftImg8bit.png",
        "bonn/bonn_000001_000020_leftImg8bit.png",
    ]
    array = np.asarray(Image.open(written[0]))
    if fmt in ("trainid", "labelid"):
        assert array.shape == SIZE
        values = set(np.unique(array).tolist())
        assert values <= (LABEL_IDS if fmt == "labelid" else set(range(19)))
    else:  # the picture (padded to the legend's least width), then the legend strip below it
        assert array.shape[0] > SIZE[0] and array.shape[1:] == (max(SIZE[1], MIN_WIDTH), 3)
    if fmt == "color":
        palette = dataset_info("cityscapes").palette
        picture, strip = array[: SIZE[0], : SIZE[1]], array[SIZE[0] :]
        shown = {tuple(c) for c in picture.reshape(-1, 3).tolist()}
        assert shown <= set(palette)
        # Each class in the picture, and only those, has its swatch in the legend.
        assert {c for c in palette if has_block(strip, c)} == shown


def test_no_legend_keeps_the_picture_pixel_aligned(setup: dict[str, Path], tmp_path: Path) -> None:
    source = next(setup["images"].rglob("*.png"))
    assert _predict(setup, tmp_path, "overlay", source, "--no-legend") == 0
    (written,) = tmp_path.rglob("*.png")
    assert np.asarray(Image.open(written)).shape == (*SIZE, 3)


def test_labelid_is_trainid_through_the_official_table(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    assert _predict(setup, tmp_path / "t", "trainid") == 0
    assert _predict(setup, tmp_path / "l", "labelid") == 0
    name = "aachen/aachen_000000_000019_leftImg8bit.png"
    train = np.asarray(Image.open(tmp_path / "t" / name))
    label = np.asarray(Image.open(tmp_path / "l" / name))
    table = {0: 7, 1: 8, 2: 11, 10: 23, 13: 26, 18: 33}
    for train_id, label_id in table.items():
        assert (label[train == train_id] == label_id).all()


def test_single_file_input(setup: dict[str, Path], tmp_path: Path) -> None:
    image = next(setup["images"].rglob("*.png"))
    assert _predict(setup, tmp_path, "color", image) == 0
    assert [p.name for p in tmp_path.iterdir()] == [image.name]


def test_labelid_needs_a_cityscapes_model(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["predict", "--checkpoint", str(setup["digits"]), "--input", str(setup["images"])]
    assert main([*argv, "--output", str(tmp_path), "--format", "labelid"]) == 2
    error = capsys.readouterr().err
    assert "labelid" in error and "11 classes" in error


def test_missing_input_is_one_line_error(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _predict(setup, tmp_path, "trainid", tmp_path / "nothing") == 2
    assert "nothing: no such file or folder" in capsys.readouterr().err
