"""`pixl data prepare` on releases as they ship: ids outside the table, a label of another size,
an image without a label and a label without an image (real GTA5 has all four); `--strict`."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pixl.cli import main
from pixl.core import IGNORE_INDEX
from pixl.data import build_dataset, class_stats_path, is_prepared, load_stats, prepare_dataset
from pixl.data.io import read_train_ids
from pixl.data.kinds import get_kind

from .data_fakes import OUTSIDE, SIZE, defective_release


@pytest.mark.parametrize("kind", ["gta5", "synthia", "cityscapes"])
def test_release_as_shipped_is_prepared_and_usable(kind: str, tmp_path: Path) -> None:
    records, _, small = defective_release(kind, tmp_path)
    split = get_kind(kind).splits_to_prepare(tmp_path)[0]
    report = prepare_dataset(kind, tmp_path, workers=1)
    assert report.ok, report.problems
    assert is_prepared(kind, tmp_path)
    name = records[1].name, records[2].name
    assert report.resized == [f"{split}/{name[0]}"] and report.left_out == [f"{split}/{name[1]}"]
    outside = [w for w in report.warnings if "outside the label table" in w]
    assert len(outside) == 1 and f"{OUTSIDE[kind]} ({8 * SIZE[1]} px)" in outside[0]
    assert sum("no label; left out" in w for w in report.warnings) == 1
    assert sum("(nearest)" in w for w in report.warnings) == 1
    assert sum("no matching image" in w for w in report.warnings) == 1
    assert all("\n" not in w for w in report.warnings)

    table = get_kind(kind).label_table
    converted = read_train_ids(records[0].label)
    assert (converted[:8] == IGNORE_INDEX).all() and (converted[8:] == table[7]).all()
    resized = read_train_ids(records[1].label)
    expected = cv2.resize(small.astype(np.uint8), SIZE[::-1], interpolation=cv2.INTER_NEAREST)
    assert resized.shape == SIZE and np.array_equal(resized, table[expected])

    stats = load_stats(report.stats_files[0])
    assert stats.left_out == {name[1]: "no label"} and name[1] not in stats.images
    dataset = build_dataset(kind, tmp_path, split, train=False, crop_size=None, resize=None)
    assert name[1] not in dataset.names and len(dataset) == len(records) - 1
    assert all(dataset[i]["label"].shape == SIZE for i in range(len(dataset)))


@pytest.mark.parametrize("kind", ["gta5", "synthia", "cityscapes"])
def test_strict_keeps_every_defect_a_problem(kind: str, tmp_path: Path) -> None:
    defective_release(kind, tmp_path)
    report = prepare_dataset(kind, tmp_path, workers=1, strict=True)
    split = get_kind(kind).splits_to_prepare(tmp_path)[0]
    assert len(report.problems) == 4 and not report.warnings
    assert class_stats_path(tmp_path, split) not in report.stats_files
    for words in ("outside", "differs from image size", "label missing", "no matching image"):
        assert sum(words in p for p in report.problems) == 1, words
    assert not is_prepared(kind, tmp_path)


def test_cli_warns_and_succeeds_or_fails_with_strict(tmp_path: Path, capsys) -> None:
    defective_release("gta5", tmp_path)
    assert main(["data", "prepare", "gta5", str(tmp_path), "--workers", "1", "--strict"]) == 1
    assert capsys.readouterr().err.count("problem: ") == 4
    assert main(["data", "prepare", "gta5", str(tmp_path), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "class statistics" in captured.out
    warnings = captured.err.strip().splitlines()
    assert len(warnings) == 4 and all(w.startswith("warning: gta5 ") for w in warnings)
    saved = json.loads((tmp_path / "pixl_class_stats_train.json").read_text())
    assert saved["left_out"] == {"00003": "no label"}
