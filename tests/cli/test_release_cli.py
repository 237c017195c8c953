"""`pixl train` on a GTA5 folder as released (ids outside the table, a label of another size, an
image without a label, a label without an image), after the default, tolerant `pixl data prepare`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from data.data_fakes import defective_release
from pixl.cli import main


@pytest.mark.slow
def test_train_runs_on_gta5_as_released(tmp_path: Path, capsys) -> None:
    root = tmp_path / "gta5"
    records, _, _ = defective_release("gta5", root)
    assert main(["data", "prepare", "gta5", str(root), "--workers", "1", "--no-progress"]) == 0
    spec = {"kind": "gta5", "root": str(root), "split": "train"}
    config = {
        "name": "release",
        "task": "supervised",
        "output_dir": str(tmp_path / "runs"),
        "model": {
            "name": "deeplabv3plus",
            "options": {"encoder": "resnet18", "encoder_weights": None, "embed_dim": 16},
        },
        "data": {
            "labelled": {**spec, "crop_size": [32, 32]},
            "val": spec,
            "rcs": {"enabled": True, "min_pixels": 20},  # reads the class statistics
        },
        "optim": {"warmup_steps": 1},
        "trainer": {
            "max_steps": 2,
            "batch_size": 2,
            "accelerator": "cpu",
            "num_workers": 0,
            "log_every": 1,
            "eval_every": 0,
            "checkpoint_every": 0,
            "progress_bar": False,
        },
    }
    path = tmp_path / "release.yaml"
    path.write_text(yaml.safe_dump(config))
    capsys.readouterr()
    assert main(["train", str(path)]) == 0
    assert "mIoU" in capsys.readouterr().out
    lines = (tmp_path / "runs" / "release" / "metrics.jsonl").read_text().splitlines()
    val = [json.loads(line) for line in lines if json.loads(line)["kind"] == "val"]
    assert val and val[-1]["num_images"] == len(records) - 1  # the frame without a label left out
