"""One evaluation path: the mIoU a run reports at its end is ``pixl eval``'s on its final checkpoint.

The val data is resized (labels too, in the training loaders) so scoring on resized labels, the
path the trainer used to take, would give another number than the full-size labels scored here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import pytest
from torch.utils.data import DataLoader

from data.data_fakes import make_synthia
from engine.tiny import tiny_config_dict
from evaluation.fakes import write_fake_cityscapes
from pixl.cli import main
from pixl.config import config_from_dict, save_config
from pixl.core import IGNORE_INDEX
from pixl.data import build_dataset, dataset_info, prepare_dataset
from pixl.engine import load_for_inference
from pixl.evaluation import evaluate


def train_then_eval(config: dict[str, Any], tmp_path: Path) -> tuple[dict, dict, dict]:
    """``pixl train`` then ``pixl eval`` on its final checkpoint: the run's report, its last
    metrics.jsonl val row and ``pixl eval``'s report."""
    path = save_config(config_from_dict(config, source="test"), tmp_path / "run.yaml")
    assert main(["train", str(path)]) == 0
    run = Path(config["output_dir"]) / config["name"]
    checkpoints = sorted((run / "checkpoints").glob("step_*.pt"))
    assert int(checkpoints[-1].stem.split("_")[1]) == config["trainer"]["max_steps"]
    output = tmp_path / "pixl_eval.json"
    argv = ["eval", str(path), "--checkpoint", str(checkpoints[-1]), "--output", str(output)]
    assert main([*argv, "--accelerator", "cpu"]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val_rows = [row for row in rows if row["kind"] == "val"]
    own = json.loads((run / "eval" / "report.json").read_text())
    return own, val_rows[-1], json.loads(output.read_text())


def resized_label_miou(config: dict[str, Any], checkpoint_run: Path) -> float:
    """The old trainer path: the val split with labels resized like the images."""
    val = config["data"]["val"]
    dataset = build_dataset(
        val["kind"],
        val["root"],
        val["split"],
        train=False,
        crop_size=None,
        resize=val["resize"],
        labelled=True,
    )
    checkpoint = sorted((checkpoint_run / "checkpoints").glob("step_*.pt"))[-1]
    _, model = load_for_inference(checkpoint)
    info = dataset_info(val["kind"], val["root"])
    report = evaluate(model, DataLoader(dataset, batch_size=1), num_classes=info.num_classes)
    return report.miou


@pytest.mark.slow
def test_digits_run_reports_the_miou_pixl_eval_gives(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config_dict(
        tiny_digits, tmp_path / "runs", task="supervised", trainer={"max_steps": 2}
    )
    config["data"]["val"]["resize"] = [32, 32]  # the scenes are 64 px
    own, last_val, pixl_eval = train_then_eval(config, tmp_path)
    assert own["num_images"] == pixl_eval["num_images"] == 4
    assert own["miou"] == pytest.approx(pixl_eval["miou"], abs=1e-6)
    assert last_val["miou"] == pytest.approx(pixl_eval["miou"], abs=1e-6)
    assert own["confusion"] == pixl_eval["confusion"]
    # Full-size labels: 4 images of 64 x 64 pixels counted (resized labels would count 32 x 32).
    assert sum(map(sum, own["confusion"])) == 4 * 64 * 64
    run = tmp_path / "runs" / config["name"]
    assert abs(resized_label_miou(config, run) - own["miou"]) > 1e-6


@pytest.mark.slow
def test_synthia_to_cityscapes_run_reports_miou16_and_miou13(tmp_path: Path) -> None:
    synthia, cityscapes = tmp_path / "synthia", tmp_path / "cityscapes"
    make_synthia(synthia, count=4)
    assert prepare_dataset("synthia", synthia, workers=1).ok
    write_fake_cityscapes(cityscapes)  # 64 x 128, prepared
    crop = [32, 32]
    model = {"name": "daformer", "options": {"encoder": "mit_b0", "embed_dim": 32}}
    config: dict[str, Any] = {
        "name": "synthia_to_cityscapes",
        "task": "uda",
        "output_dir": str(tmp_path / "runs"),
        "model": model,
        "data": {
            "labelled": {
                "kind": "synthia",
                "root": str(synthia),
                "split": "train",
                "crop_size": crop,
            },
            "unlabelled": {
                "kind": "cityscapes",
                "root": str(cityscapes),
                "split": "train",
                "crop_size": crop,
                "resize": [32, 64],
            },
            "val": {
                "kind": "cityscapes",
                "root": str(cityscapes),
                "split": "val",
                "resize": [32, 64],
            },
            "rcs": {"enabled": False},
        },
        "fd": {"enabled": False},
        "trainer": {
            "max_steps": 2,
            "batch_size": 2,
            "unlabelled_batch_size": 2,
            "accelerator": "cpu",
            "devices": 1,
            "num_workers": 0,
            "log_every": 1,
            "eval_every": 0,
            "checkpoint_every": 0,
            "progress_bar": False,
        },
    }
    own, last_val, pixl_eval = train_then_eval(config, tmp_path)
    assert set(own["subsets"]) == {"mIoU16", "mIoU13"}
    for name in ("mIoU16", "mIoU13"):
        assert own["subsets"][name] == pytest.approx(pixl_eval["subsets"][name], abs=1e-6)
        assert last_val["subsets"][name] == pytest.approx(pixl_eval["subsets"][name], abs=1e-6)
    assert own["miou"] == pytest.approx(pixl_eval["miou"], abs=1e-6)
    # Every labelled pixel of the full-size (64 x 128) Cityscapes val labels is counted.
    labels = sorted((cityscapes / "gtFine" / "val").glob("*/*_gtFine_labelTrainIds.png"))
    valid = sum(
        int((cv2.imread(str(p), cv2.IMREAD_UNCHANGED) != IGNORE_INDEX).sum()) for p in labels
    )
    assert len(labels) == 2 and sum(map(sum, own["confusion"])) == valid > 32 * 64 * 2
    assert abs(resized_label_miou(config, tmp_path / "runs" / config["name"]) - own["miou"]) > 1e-6
