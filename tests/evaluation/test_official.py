"""`pixl eval`'s numbers equal those of cityscapesscripts' own evaluator on exported predictions."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixl.data import dataset_info
from pixl.errors import CheckpointError, PixlError
from pixl.evaluation import official_cityscapes_scores
from pixl.evaluation.runner import evaluate_config, predict_files

from .fakes import SIZE, PatchSegmentor, fake_config, write_fake_cityscapes


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_cityscapes(tmp_path_factory.mktemp("cityscapes"))


@pytest.mark.parametrize("resize", [None, (32, 64)])
def test_pixl_eval_equals_official_evaluator(cityscapes: Path, tmp_path: Path, resize) -> None:
    config = fake_config(cityscapes, resize=resize)
    model = PatchSegmentor(19)
    report = evaluate_config(model, config, source="tiny")
    written = predict_files(
        model, config, cityscapes / "leftImg8bit" / "val", tmp_path, "labelid", weights="tiny"
    )
    assert [p.name for p in written] == [
        "aachen_000000_000019_leftImg8bit.png",
        "bonn_000001_000020_leftImg8bit.png",
    ]
    first = np.asarray(Image.open(written[0]))
    assert first.shape == SIZE and first.dtype == np.uint8  # original size, label ids
    assert set(np.unique(first)) <= {
        7,
        8,
        11,
        12,
        13,
        17,
        19,
        20,
        21,
        22,
        23,
        24,
        25,
        26,
        27,
        28,
        31,
        32,
        33,
    }

    gt = sorted((cityscapes / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    official = official_cityscapes_scores(tmp_path, gt)
    names = dataset_info("cityscapes").class_names
    assert len(official.per_class_iou) == 19
    present = [n for n in names if not math.isnan(report.per_class_iou[n])]
    assert len(present) >= 10  # the comparison covers many classes
    for name in names:
        ours, theirs = report.per_class_iou[name], official.per_class_iou[name]
        assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs, abs=1e-9)
    assert report.miou == pytest.approx(official.miou, abs=1e-9)


def test_official_evaluator_missing_prediction_is_pixl_error(
    cityscapes: Path, tmp_path: Path
) -> None:
    gt = sorted((cityscapes / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    with pytest.raises(PixlError, match="Found no prediction"):
        official_cityscapes_scores(tmp_path, gt)


def test_model_for_other_number_of_classes_is_checkpoint_error(cityscapes: Path) -> None:
    with pytest.raises(CheckpointError, match=r"ckpt\.pt: the model predicts 11 classes .* 19"):
        evaluate_config(PatchSegmentor(11), fake_config(cityscapes), source="ckpt.pt")


def test_installed_official_script_runs_and_agrees(cityscapes: Path, tmp_path: Path) -> None:
    """The console script users submit with (``csEvalPixelLevelSemanticLabeling``), run as
    installed in this environment on exported predictions, reports pixl eval's numbers."""
    script = Path(sys.executable).with_name("csEvalPixelLevelSemanticLabeling")
    assert script.is_file(), f"{script} is not installed beside the interpreter"
    config = fake_config(cityscapes, resize=None)
    model = PatchSegmentor(19)
    report = evaluate_config(model, config, source="tiny")
    results = tmp_path / "results"
    predict_files(
        model, config, cityscapes / "leftImg8bit" / "val", results, "labelid", weights="t"
    )
    env = {
        **os.environ,
        "CITYSCAPES_DATASET": str(cityscapes),
        "CITYSCAPES_RESULTS": str(results),
        "CITYSCAPES_EXPORT_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [str(script)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    scores = json.loads((tmp_path / "resultPixelLevelSemanticLabeling.json").read_text())
    assert scores["averageScoreClasses"] == pytest.approx(report.miou, abs=1e-9)
    for name, ours in report.per_class_iou.items():
        theirs = scores["classScores"][name]
        assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs, abs=1e-9)
    # Its default instance-weighted score ran too (it reads the instanceIds files).
    assert 0.0 < scores["averageScoreInstClasses"] < 1.0
