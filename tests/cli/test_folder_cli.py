"""Your own data through the command line: prepare, train (the shipped folder configs), eval and
predict on a folder made here (three classes, classes.yaml with its own ignore index)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from data.folder_fakes import NAMES, PALETTE, TINY, make_folder
from pixl.cli import main


def _prepare(root: Path) -> None:
    assert main(["data", "prepare", "folder", str(root), "--workers", "1", "--no-progress"]) == 0


@pytest.mark.slow
def test_supervised_trains_evaluates_and_predicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "mine", ignore_index=200)
    _prepare(root)
    overrides = [
        f"output_dir={tmp_path / 'runs'}",
        f"data.labelled.root={root}",
        "data.labelled.crop_size=[32, 32]",
        f"data.val.root={root}",
        *TINY,
    ]
    assert main(["train", "folder/supervised", *overrides]) == 0
    run = tmp_path / "runs" / "folder_supervised"
    assert "mIoU" in capsys.readouterr().out
    weights = run / "final" / "model.safetensors"
    assert weights.is_file()

    report_path = tmp_path / "eval.json"
    argv = ["eval", str(run / "config.yaml"), "--checkpoint", str(weights)]
    assert main([*argv, "--output", str(report_path), "--accelerator", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in NAMES)
    report = json.loads(report_path.read_text())
    assert report["class_names"] == NAMES and report["num_images"] == 2
    assert 0.0 <= report["miou"] <= 1.0

    images = root / "images" / "val"
    out = tmp_path / "predicted"
    argv = ["predict", "--checkpoint", str(weights), "--input", str(images), "--output", str(out)]
    assert main([*argv, "--format", "color", "--no-legend"]) == 0
    written = sorted(out.rglob("*.png"))
    assert [p.stem for p in written] == ["val_00", "val_01"]
    for path in written:
        picture = np.asarray(Image.open(path))
        assert picture.shape == (32, 32, 3)
        assert {tuple(c) for c in picture.reshape(-1, 3).tolist()} <= {tuple(c) for c in PALETTE}
    assert main([*argv[:-1], str(tmp_path / "ids"), "--format", "trainid"]) == 0
    ids = np.asarray(Image.open(tmp_path / "ids" / "val_00.png"))
    assert set(np.unique(ids).tolist()) <= {0, 1, 2}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["semi", "uda"])
def test_semi_and_uda_train_on_folders(tmp_path: Path, task: str) -> None:
    if task == "semi":
        root = make_folder(tmp_path / "mine", {"labelled": 2, "val": 2})
        make_folder(root, {"unlabelled": 4}, labelled=False, seed=1)
        _prepare(root)
        roots = {"labelled": root, "unlabelled": root, "val": root}
    else:  # from one folder to another
        source = make_folder(tmp_path / "source", {"train": 4})
        target = make_folder(tmp_path / "target", {"val": 2}, seed=1)
        make_folder(target, {"train": 4}, labelled=False, seed=2)
        _prepare(source)
        _prepare(target)
        roots = {"labelled": source, "unlabelled": target, "val": target}
    overrides = [f"output_dir={tmp_path / 'runs'}", *TINY, "data.rcs.min_pixels=20"]
    for part, folder in roots.items():
        overrides.append(f"data.{part}.root={folder}")
        if part != "val":
            overrides.append(f"data.{part}.crop_size=[32, 32]")
    assert main(["train", f"folder/{task}", *overrides]) == 0
    run = tmp_path / "runs" / f"folder_{task}"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["unlabelled"]["root"] == str(roots["unlabelled"])
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records] == ["train", "train", "val"]


def test_a_config_on_a_broken_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "mine")
    (root / "classes.yaml").write_text("names: [only]\n")
    overrides = [f"data.labelled.root={root}", f"data.val.root={root}", *TINY]
    assert main(["train", "folder/supervised", f"output_dir={tmp_path}", *overrides]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "classes.yaml: names: expected a list of 2 to 255 distinct class names" in err
    assert not (tmp_path / "folder_supervised" / "final").exists()
