"""`pixl check`: one real training step of a config, its time and peak memory, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.tiny import tiny_config_dict
from pixl.cli import main


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "check.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
def test_check_runs_one_uda_step_and_writes_nothing(
    tiny_digits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_config_dict(tiny_digits, tmp_path / "runs", task="uda")
    data["self_training"] = {"start_step": 7}
    path = write(tmp_path, data)
    assert main(["check", str(path), "--batch", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: ok" in out
    assert "one training step on cpu (32-true), batch 1 + 1, images 32x32, at step 7" in out
    assert "peak memory: " in out and "GiB (CPU, peak RSS above" in out
    assert "set by: " in out and "peak per stage" in out and "mixed pass + CE*" in out
    assert "ce_labelled" in out and "ce_mixed" in out and "pixl_mixed" in out
    assert not (tmp_path / "runs").exists()


def test_check_reports_a_missing_dataset_in_one_line(
    tiny_digits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_config_dict(tiny_digits, tmp_path / "runs", task="supervised")
    data["data"]["val"]["root"] = str(tmp_path / "nowhere")
    assert main(["check", str(write(tmp_path, data))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "nowhere" in err and "\n" not in err
    assert main(["check", str(write(tmp_path, data)), "--batch", "0"]) == 2
    assert "--batch: expected a positive number" in capsys.readouterr().err
