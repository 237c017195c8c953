"""`pixl visualize embedding|predictions`: figures written and non-empty, indices reported, the
grid's legend in the class colours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.fakes import fake_config, write_fake_cityscapes, write_weights
from pixl.cli import main
from pixl.config import load_config, save_config
from pixl.data import dataset_info
from pixl.evaluation.runner import split_dataset
from pixl.visualization import classes_present
from visualization.test_palette_overlay import has_block


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("visualize_cli")
    root = write_fake_cityscapes(base / "cityscapes")
    config = fake_config(root)
    other = config.model_copy(update={"name": "other"})
    return {
        "config": save_config(config, base / "c.yaml"),
        "a": write_weights(base / "a", config),
        "b": write_weights(base / "b", other),
    }


def _png_size(path: Path) -> tuple[int, int]:
    assert path.stat().st_size > 1000
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        return picture.size


@pytest.mark.slow
def test_embedding_of_two_checkpoints(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "tsne.png"
    argv = ["visualize", "embedding", str(setup["config"]), "--checkpoint", str(setup["a"])]
    argv += ["--checkpoint", str(setup["b"]), "--per-class", "10", "--output", str(output)]
    argv += ["--tsne-iterations", "250"]
    assert main(argv) == 0
    width, height = _png_size(output)
    assert width > height  # two panels side by side
    indices = json.loads(output.with_suffix(".json").read_text())
    assert list(indices) == [str(setup["a"]), str(setup["b"])]
    for values in indices.values():
        assert values["calinski_harabasz"] > 0 and values["davies_bouldin"] > 0
    assert "Calinski-Harabasz" in capsys.readouterr().out


def test_prediction_grid(setup: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "grid.png"
    argv = ["visualize", "predictions", str(setup["config"]), "--checkpoint", str(setup["a"])]
    assert main([*argv, "--num", "2", "--output", str(output)]) == 0
    width, height = _png_size(output)
    assert width > 200 and height > 100
    # The legend shows (at least) every class of the two images' ground truth, in its colour.
    val = split_dataset(load_config(setup["config"]).data.val, None)
    labels = [val[i]["label"].numpy() for i in range(2)]
    palette = dataset_info("cityscapes").palette
    with Image.open(output) as picture:
        pixels = np.asarray(picture.convert("RGB"))
    for class_id in classes_present(*labels, num_classes=19):
        assert has_block(pixels, palette[class_id]), class_id


def test_too_many_checkpoints_is_one_line_error(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["visualize", "predictions", str(setup["config"]), "--checkpoint", str(setup["a"])]
    argv += ["--checkpoint", str(setup["b"]), "--output", str(tmp_path / "x.png")]
    assert main(argv) == 2
    assert "at most 1" in capsys.readouterr().err


def test_bad_embedding_options_are_one_line_error(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["visualize", "embedding", str(setup["config"]), "--checkpoint", str(setup["a"])]
    assert main([*argv, "--per-class", "0", "--output", str(tmp_path / "x.png")]) == 2
    assert "per-class" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
