"""`pixl data prepare` on tiny fake datasets in each official layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label

from pixl.cli import main
from pixl.core import IGNORE_INDEX
from pixl.data import is_prepared, load_stats, prepare_dataset
from pixl.data.io import write_png_atomic
from pixl.errors import DataError

from .data_fakes import make_cityscapes, make_gta5, make_synthia


def cityscapes_train_ids(raw: np.ndarray) -> np.ndarray:
    """Reference conversion straight from cityscapesscripts' table."""
    out = np.full(raw.shape, IGNORE_INDEX, dtype=np.uint8)
    for label_id in np.unique(raw):
        train_id = id2label[int(label_id)].trainId
        if 0 <= train_id < IGNORE_INDEX:
            out[raw == label_id] = train_id
    return out


# SYNTHIA-RAND-CITYSCAPES README ids -> Cityscapes train ids, written out independently.
SYNTHIA_EXPECTED = {
    1: 10,
    2: 2,
    3: 0,
    4: 1,
    5: 4,
    6: 8,
    7: 5,
    8: 13,
    9: 7,
    10: 11,
    11: 18,
    12: 17,
    15: 6,
    16: 9,
    17: 12,
    18: 14,
    19: 15,
    20: 16,
    21: 3,
    0: 255,
    13: 255,
    14: 255,
    22: 255,
}


def read(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_cityscapes_labels_match_cityscapesscripts(tmp_path: Path) -> None:
    raws = make_cityscapes(tmp_path)
    report = prepare_dataset("cityscapes", tmp_path, workers=1)
    assert report.ok and report.converted == 6
    for stem, raw in raws.items():
        (path,) = tmp_path.glob(f"gtFine/*/*/{stem}_gtFine_labelTrainIds.png")
        np.testing.assert_array_equal(read(path), cityscapes_train_ids(raw))
    assert is_prepared("cityscapes", tmp_path)


def test_class_statistics_count_train_pixels(tmp_path: Path) -> None:
    make_cityscapes(tmp_path, {"train": 3, "val": 1})
    prepare_dataset("cityscapes", tmp_path, workers=1)
    stats = load_stats(tmp_path / "pixl_class_stats_train.json")
    labels = [read(p) for p in sorted(tmp_path.glob("gtFine/train/*/*_labelTrainIds.png"))]
    expected = np.bincount(np.concatenate([lab.ravel() for lab in labels]), minlength=256)[:19]
    np.testing.assert_array_equal(stats.pixel_counts, expected)
    assert len(stats.images) == 3


def test_gta5_palette_labels(tmp_path: Path) -> None:
    raws = make_gta5(tmp_path)
    assert prepare_dataset("gta5", tmp_path, workers=1).ok
    for stem, raw in raws.items():
        converted = read(tmp_path / "labels" / f"{stem}_labelTrainIds.png")
        np.testing.assert_array_equal(converted, cityscapes_train_ids(raw))


def test_synthia_16bit_labels(tmp_path: Path) -> None:
    raws = make_synthia(tmp_path)
    assert prepare_dataset("synthia", tmp_path, workers=1).ok
    for stem, raw in raws.items():
        converted = read(tmp_path / "GT" / "LABELS" / f"{stem}_labelTrainIds.png")
        for source_id, train_id in SYNTHIA_EXPECTED.items():
            assert (converted[raw == source_id] == train_id).all(), source_id


def test_rerun_skips_finished_files_and_removes_parts(tmp_path: Path) -> None:
    make_gta5(tmp_path, count=3)
    prepare_dataset("gta5", tmp_path, workers=1)
    done = tmp_path / "labels" / "00001_labelTrainIds.png"
    stamp = done.stat().st_mtime_ns
    stale = tmp_path / "labels" / "00002_labelTrainIds.png.123.part"
    stale.write_bytes(b"half")
    report = prepare_dataset("gta5", tmp_path, workers=1)
    assert (report.converted, report.skipped) == (0, 3)
    assert done.stat().st_mtime_ns == stamp and not stale.exists()


def test_workers_give_same_result(tmp_path: Path) -> None:
    make_synthia(tmp_path / "a", count=10)
    make_synthia(tmp_path / "b", count=10)
    prepare_dataset("synthia", tmp_path / "a", workers=1)
    assert prepare_dataset("synthia", tmp_path / "b", workers=2).converted == 10
    for path in sorted((tmp_path / "a" / "GT" / "LABELS").glob("*_labelTrainIds.png")):
        other = tmp_path / "b" / "GT" / "LABELS" / path.name
        assert path.read_bytes() == other.read_bytes()
    stats_a = json.loads((tmp_path / "a" / "pixl_class_stats_train.json").read_text())
    stats_b = json.loads((tmp_path / "b" / "pixl_class_stats_train.json").read_text())
    assert stats_a["images"] == stats_b["images"]


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path, monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_png_atomic(tmp_path / "x_labelTrainIds.png", np.zeros((4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_bad_files_are_reported_and_the_rest_converted(tmp_path: Path) -> None:
    make_gta5(tmp_path, count=6)
    images, labels = tmp_path / "images", tmp_path / "labels"
    (images / "00001.png").write_bytes(b"not a png")  # corrupt
    data = (images / "00002.png").read_bytes()
    (images / "00002.png").write_bytes(data[: len(data) // 2])  # truncated
    cv2.imwrite(str(labels / "00003.png"), np.zeros((16, 16), np.uint8))  # wrong size
    cv2.imwrite(str(labels / "00004.png"), np.full((32, 64), 200, np.uint8))  # id not in table
    (labels / "00005.png").unlink()  # missing label
    report = prepare_dataset("gta5", tmp_path, workers=1, strict=True)
    assert report.converted == 1 and len(report.problems) == 5
    for stem, words in [
        ("00001", "corrupt"),
        ("00002", "truncated"),
        ("00003", "size"),
        ("00004", "outside"),
        ("00005", "missing"),
    ]:
        (line,) = [p for p in report.problems if stem in p]
        assert words in line and "\n" not in line
    assert not is_prepared("gta5", tmp_path)


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        prepare_dataset("cityscapes", tmp_path / "nowhere")
    (tmp_path / "leftImg8bit" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match=r"missing gtFine/train, leftImg8bit/val, gtFine/val"):
        prepare_dataset("cityscapes", tmp_path)
    for split in ("train", "val"):
        for folder in ("leftImg8bit", "gtFine"):
            (tmp_path / folder / split).mkdir(parents=True, exist_ok=True)
    with pytest.raises(DataError, match="empty"):
        prepare_dataset("cityscapes", tmp_path)


def test_cli_prepare_exit_codes(tmp_path: Path, capsys) -> None:
    make_cityscapes(tmp_path)
    assert main(["data", "prepare", "cityscapes", str(tmp_path), "--workers", "1"]) == 0
    bad = next(tmp_path.glob("gtFine/val/*/*_gtFine_labelIds.png"))
    cv2.imwrite(str(bad), np.full((32, 64), 99, np.uint8))
    next(tmp_path.glob("gtFine/val/*/*_labelTrainIds.png")).unlink()
    for path in tmp_path.glob("gtFine/val/*/*_labelTrainIds.png"):
        path.unlink()
    assert main(["data", "prepare", "cityscapes", str(tmp_path), "--no-progress", "--strict"]) == 1
    err = capsys.readouterr().err
    assert f"problem: {bad}: label ids [99]" in err
    assert main(["data", "prepare", "gta5", str(tmp_path / "none")]) == 2
