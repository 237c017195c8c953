"""Principle 3: a checkpoint is self-contained. Class names, palette, ignore index and the
pre-processing travel inside the trainer checkpoint and the safetensors export (its metadata), so
`pixl predict` needs neither the dataset folder nor the run's config.yaml; `pixl eval` refuses a
val folder whose classes differ from the checkpoint's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from data.folder_fakes import NAMES, PALETTE, TINY, make_folder
from pixl.cli import main
from pixl.models import read_metadata


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("self_contained")
    root = make_folder(base / "mine", ignore_index=200)
    argv = ["train", "folder/supervised", f"output_dir={base / 'runs'}"]
    argv += [f"data.labelled.root={root}", f"data.val.root={root}", "data.val.resize=[24, 24]"]
    assert main([*argv, "data.labelled.crop_size=[32, 32]", *TINY]) == 0
    return base / "runs" / "folder_supervised"


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["final/model.safetensors", "checkpoints/step_00000002.pt"])
def test_predict_needs_no_dataset_and_no_config(run: Path, tmp_path: Path, weights: str) -> None:
    alone = tmp_path / "elsewhere" / Path(weights).name
    alone.parent.mkdir()
    shutil.copy(run / weights, alone)  # the file alone, no config.yaml beside it
    photos = tmp_path / "photos"
    make_folder(photos, {"val": 2}, size=40, seed=3)
    data_root = run.parent.parent / "mine"
    hidden = data_root.with_name("mine_hidden")
    data_root.rename(hidden)  # the training data is gone (another machine)
    try:
        argv = ["predict", "--checkpoint", str(alone), "--input", str(photos / "images" / "val")]
        assert main([*argv, "--output", str(tmp_path / "out"), "--format", "color"]) == 0
    finally:
        hidden.rename(data_root)
    pictures = sorted((tmp_path / "out").glob("*.png"))
    assert len(pictures) == 2
    picture = np.asarray(Image.open(pictures[0]))[:40, :40]
    assert {tuple(c) for c in picture.reshape(-1, 3).tolist()} <= {tuple(c) for c in PALETTE}


@pytest.mark.slow
def test_the_export_metadata_holds_classes_and_config(run: Path) -> None:
    metadata = read_metadata(run / "final" / "model.safetensors")
    classes = json.loads(metadata["pixl.classes"])
    assert classes["names"] == NAMES and classes["palette"] == PALETTE
    assert classes["ignore_index"] == 200
    config = yaml.safe_load(metadata["pixl.config"])
    assert config["data"]["val"]["resize"] == [24, 24] and config["eval"]["mode"] == "whole"


@pytest.mark.slow
def test_eval_refuses_a_val_folder_whose_classes_are_reordered(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_folder(tmp_path / "other", {"val": 2}, classes={"names": NAMES[::-1]})
    argv = ["eval", str(run / "config.yaml"), f"data.val.root={other}", "--accelerator", "cpu"]
    assert main([*argv, "--checkpoint", str(run / "final" / "model.safetensors")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: data.val") and "another order" in error
    assert "class 0 is 'bar' here, 'background' for" in error and error.count("\n") == 1
