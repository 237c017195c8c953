"""Principle 2: a run folder is found by its own absolute location. Relative ``output_dir`` and
data roots are resolved once, when the run starts, and saved resolved in ``RUN/config.yaml``;
resume and eval then work from any working directory, and after the folder was moved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from data.folder_fakes import TINY, make_folder
from pixl.cli import main


@pytest.mark.slow
def test_a_relative_run_resumes_and_evaluates_from_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    make_folder(project / "mine")
    monkeypatch.chdir(project)
    relative = ["output_dir=runs", "data.labelled.root=mine", "data.val.root=mine"]
    steps = ["trainer.max_steps=1", "data.labelled.crop_size=[32, 32]"]
    assert main(["train", "folder/supervised", *relative, *TINY, *steps]) == 0
    run = project / "runs" / "folder_supervised"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["output_dir"] == str(project / "runs")
    assert (
        saved["data"]["labelled"]["root"] == saved["data"]["val"]["root"] == str(project / "mine")
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    config = str(run / "config.yaml")
    assert main(["train", config, "--resume", "auto", "trainer.max_steps=2"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "starting afresh" not in out
    assert not (elsewhere / "runs").exists()
    steps_logged = [json.loads(line)["step"] for line in (run / "metrics.jsonl").open()]
    assert sorted(set(steps_logged)) == [1, 2] and steps_logged == sorted(steps_logged)

    # The folder moved (another disk, another machine): its config.yaml still names it.
    moved = tmp_path / "moved" / "folder_supervised"
    shutil.move(run, moved)
    weights = moved / "final" / "model.safetensors"
    argv = ["eval", str(moved / "config.yaml"), "--checkpoint", str(weights)]
    assert main([*argv, "--accelerator", "cpu"]) == 0
    assert (moved / "eval" / "model_val.json").is_file()
    assert main(["train", str(moved / "config.yaml"), "--resume", "auto"]) == 0
    assert "the run is finished" in capsys.readouterr().out
