"""`pixl eval`: table, JSON report, both checkpoint kinds, a clear error for other classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.fakes import fake_config, write_fake_cityscapes, write_weights
from pixl.cli import main
from pixl.config import save_config
from pixl.engine import load_for_inference
from pixl.evaluation.runner import evaluate_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("eval_cli")
    root = write_fake_cityscapes(base / "cityscapes")
    config = fake_config(root)
    config_path = save_config(config, base / "eval.yaml")
    return {
        "base": base,
        "config": config_path,
        "safetensors": write_weights(base / "export", config),
        "pt": write_weights(base / "ckpt", config, trainer_checkpoint=True),
        "digits": write_weights(base / "digits", fake_config(base / "nowhere", kind="digits")),
    }


@pytest.mark.parametrize("kind", ["safetensors", "pt"])
def test_eval_prints_table_and_writes_report(
    setup: dict[str, Path], kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "report.json"
    argv = ["eval", str(setup["config"]), "--checkpoint", str(setup[kind]), "--output", str(output)]
    assert main([*argv, "--accelerator", "cpu"]) == 0
    printed = capsys.readouterr().out
    for expected in ("road", "bicycle", "mIoU", str(output)):
        assert expected in printed
    report = json.loads(output.read_text())
    assert report["num_images"] == 2
    assert len(report["per_class_iou"]) == 19
    config, model = load_for_inference(setup[kind])
    expected = evaluate_config(model, config, source="x")
    assert report["miou"] == pytest.approx(expected.miou, abs=1e-7)


def test_eval_overrides_and_slide_mode(setup: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "slide.json"
    argv = ["eval", str(setup["config"]), "eval.window=[32,32]", "eval.stride=[16,16]"]
    argv += ["--checkpoint", str(setup["safetensors"]), "--mode", "slide", "--output", str(output)]
    assert main([*argv, "--accelerator", "cpu"]) == 0
    assert json.loads(output.read_text())["miou"] is not None


def test_eval_default_report_path_is_in_the_run_folder(
    setup: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["eval", str(setup["config"]), "--checkpoint", str(setup["safetensors"])]
    assert main([*argv, "--accelerator", "cpu"]) == 0
    assert (tmp_path / "runs" / "fake" / "eval" / "model_val.json").is_file()


def test_checkpoint_for_other_number_of_classes_is_one_line_error(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", str(setup["config"]), "--checkpoint", str(setup["digits"])]
    assert main([*argv, "--accelerator", "cpu"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error
    assert "predicts 11 classes" in error and "19" in error and "model.safetensors" in error


def test_missing_checkpoint_is_one_line_error(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", str(setup["config"]), "--checkpoint", "nope.pt", "--accelerator", "cpu"]
    assert main(argv) == 2
    assert "nope.pt" in capsys.readouterr().err
