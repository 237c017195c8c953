"""`pixl train` and `pixl demo` from the command line: runs, resume, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from engine.tiny import tiny_config_dict
from pixl.cli import main


@pytest.fixture
def config_path(tiny_digits: Path, tmp_path: Path) -> Path:
    data = tiny_config_dict(tiny_digits, tmp_path / "runs", task="supervised")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_wrong_key_or_value_is_one_line(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(config_path), "pixl.temprature=0.2"]) == 2
    err = one_line_error(capsys)
    assert "unknown key 'pixl.temprature' (valid: enabled, adaptive_selection, temperature" in err
    assert main(["train", str(config_path), "trainer.precision=fp8"]) == 2
    err = one_line_error(capsys)
    assert err.endswith(
        "trainer.precision: expected one of 32-true, bf16-mixed, 16-mixed; got 'fp8'"
    )
    assert main(["train", str(config_path), "--resume", "missing.pt"]) == 2
    assert "missing.pt: checkpoint to resume from not found" in one_line_error(capsys)


@pytest.mark.slow
def test_train_then_resume_auto(config_path: Path, tmp_path: Path, capsys) -> None:
    assert main(["train", str(config_path), "trainer.max_steps=2"]) == 0
    run = tmp_path / "runs" / "tiny_supervised_daformer"
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_steps"] == 2
    assert "mIoU" in capsys.readouterr().out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records] == ["train", "train", "val"]
    # A second fresh run would overwrite the checkpoints: refused with a hint.
    assert main(["train", str(config_path), "trainer.max_steps=3"]) == 2
    assert "--resume auto" in one_line_error(capsys)
    assert main(["train", str(config_path), "trainer.max_steps=3", "--resume", "auto"]) == 0
    assert (run / "checkpoints" / "step_00000003.pt").is_file()
    assert (run / "tensorboard").is_dir()


@pytest.mark.slow
def test_demo_trains_evaluates_and_writes_its_report(
    tiny_digits: Path, tmp_path: Path, capsys
) -> None:
    args = ["demo", "--root", str(tiny_digits), "--output-dir", str(tmp_path), "--steps", "2"]
    assert main([*args, "--seed", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "UDA + PiXL target-val mIoU" in out and "background" in out
    assert "contribution" not in out  # without --compare: the PiXL run only
    report = (tmp_path / "digits_uda_pixl" / "demo_report.md").read_text()
    assert report.startswith("# pixl demo") and "| " not in report.splitlines()[0]
    assert "target-val mIoU" in report and "background" in report
    saved = yaml.safe_load((tmp_path / "digits_uda_pixl" / "config.yaml").read_text())
    assert saved["trainer"]["seed"] == 3 and saved["trainer"]["max_steps"] == 2


@pytest.mark.slow
def test_demo_compare_separates_pixl_from_self_training(
    tiny_digits: Path, tmp_path: Path, capsys
) -> None:
    args = ["demo", "--root", str(tiny_digits), "--output-dir", str(tmp_path), "--steps", "2"]
    assert main([*args, "--compare", "--no-progress"]) == 0
    out = capsys.readouterr().out
    miou = {
        label: float(line.rsplit(":", 1)[1])
        for line in out.splitlines()
        for label in ("UDA + PiXL", "UDA without PiXL", "source-only", "oracle")
        if line.startswith(f"{label} target-val mIoU:")
    }
    assert len(miou) == 4
    pixl = next(line for line in out.splitlines() if line.startswith("PiXL's own contribution"))
    gain = float(pixl.split(": ")[1].split()[0])
    assert gain == pytest.approx(miou["UDA + PiXL"] - miou["UDA without PiXL"], abs=0.011)
    names = ("digits_uda_pixl", "digits_uda_baseline", "digits_source_only_baseline")
    for name in (*names, "digits_supervised_baseline"):
        assert (tmp_path / name / "final" / "model.safetensors").is_file()
    report = (tmp_path / "digits_uda_pixl" / "demo_report.md").read_text()
    assert "## UDA without PiXL" in report and "## source-only" in report and "## oracle" in report


@pytest.mark.slow
def test_demo_runs_texscapes_when_asked(tmp_path: Path, capsys) -> None:
    from pixl.data.texscapes import generate_texscapes

    root = tmp_path / "texscapes"
    generate_texscapes(root, sizes={"source_train": 4, "target_train": 4, "target_val": 2})
    args = ["demo", "--benchmark", "texscapes", "--root", str(root), "--output-dir"]
    assert main([*args, str(tmp_path / "runs"), "--steps", "1", "--no-progress"]) == 0
    assert "UDA + PiXL target-val mIoU" in capsys.readouterr().out
    report = (tmp_path / "runs" / "texscapes_uda_pixl" / "demo_report.md").read_text()
    assert report.startswith("# pixl demo: TexScapes UDA") and "vehicle" in report
    saved = yaml.safe_load((tmp_path / "runs" / "texscapes_uda_pixl" / "config.yaml").read_text())
    assert saved["model"]["options"]["encoder_weights"] == "imagenet"


def test_demo_refuses_an_unknown_benchmark(tmp_path: Path) -> None:
    from pixl.engine.demo import run_demo
    from pixl.errors import ConfigError

    with pytest.raises(ConfigError, match="--benchmark: expected one of"):
        run_demo(tmp_path, tmp_path, benchmark="mnist")
