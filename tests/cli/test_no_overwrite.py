"""Principle 1: no command writes onto a file it did not create. `pixl predict` never lands on an
input of any extension nor maps two inputs to one output; `pixl eval` reports name the checkpoint
they scored and never replace another checkpoint's report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.fakes import fake_config, write_fake_cityscapes, write_weights
from pixl.cli import main
from pixl.config import save_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("no_overwrite")
    root = write_fake_cityscapes(base / "cityscapes")
    config = fake_config(root)
    return {
        "config": save_config(config, base / "run" / "config.yaml"),
        "first": write_weights(base / "a", config),
        "second": write_weights(base / "b", config, trainer_checkpoint=True),
    }


def _photos(folder: Path, names: list[str]) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(folder / name)
    return {name: (folder / name).read_bytes() for name in names}


def _predict(weights: Path, source: Path, output: Path) -> int:
    argv = ["predict", "--checkpoint", str(weights), "--input", str(source)]
    return main([*argv, "--output", str(output), "--format", "trainid"])


def test_a_jpeg_is_never_predicted_onto_the_png_beside_it(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    before = _photos(photos, ["same.jpg", "same.png"])
    assert _predict(setup["first"], photos / "same.jpg", photos) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --output") and "folder of --input" in error
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before


def test_two_inputs_with_one_stem_are_refused_before_any_work(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    _photos(photos, ["a.jpg", "a.png", "b.png"])
    out = tmp_path / "out"
    assert _predict(setup["first"], photos, out) == 2
    error = capsys.readouterr().err
    assert "a.jpg and a.png would both be predicted as" in error
    assert not out.exists()


def test_reports_name_their_checkpoint_and_never_replace_another(
    setup: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the default report lands in RUN/eval of the relative output_dir
    first = setup["first"].resolve()  # a/model.safetensors
    second = setup["second"].rename(setup["second"].with_name("model.pt")).resolve()
    argv = ["eval", str(setup["config"]), "--accelerator", "cpu", "--checkpoint"]
    for checkpoint in (first, second, first):  # the first scored again replaces its own report
        assert main([*argv, str(checkpoint)]) == 0
    out = capsys.readouterr().out
    reports = [Path(line.split("report: ")[1]) for line in out.splitlines() if "report: " in line]
    assert reports[0] == reports[2] != reports[1]
    assert sorted(p.name for p in reports[0].parent.iterdir()) == [
        "model_val-2.json",
        "model_val.json",
    ]
    assert [json.loads(p.read_text())["checkpoint"] for p in reports] == [
        str(first),
        str(second),
        str(first),
    ]

    held = reports[1].read_text()
    assert main([*argv, str(first), "--output", str(reports[1])]) == 2
    assert "holds the report of another checkpoint" in capsys.readouterr().err
    assert reports[1].read_text() == held
