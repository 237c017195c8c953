"""The `folder` kind: a user's images, masks and classes.yaml; checks with one-line problems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from data.folder_fakes import NAMES, make_folder
from pixl.cli import main
from pixl.core import IGNORE_INDEX
from pixl.data import build_dataset, dataset_info, load_stats, prepare_dataset
from pixl.data.folder import read_classes
from pixl.errors import DataError


def _classes(root: Path, data: object) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.yaml").write_text(yaml.safe_dump(data))
    return root


def test_classes_yaml_defaults_and_names(tmp_path: Path) -> None:
    info = read_classes(_classes(tmp_path, {"names": ["sky", "tree", "car"]}))
    assert info.num_classes == 3 and info.class_names == ("sky", "tree", "car")
    assert info.file_ignore_index == IGNORE_INDEX and info.thing_classes == ()
    assert len(set(info.palette)) == 3
    things = {"names": ["sky", "tree", "car"], "thing_classes": ["car", 1]}
    assert read_classes(_classes(tmp_path, things)).thing_classes == (1, 2)
    assert dataset_info("folder", tmp_path).class_names == ("sky", "tree", "car")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"names": ["a", "a"]}, "names: expected a list of 2 to 255 distinct class names"),
        ({"names": ["a", "b"], "palette": [[0, 0, 0]]}, "palette: expected one [r, g, b]"),
        ({"names": ["a", "b"], "ignore_index": 1}, "ignore_index: expected an integer from 2"),
        ({"names": ["a", "b"], "thing_classes": ["c"]}, "thing_classes: 'c' is not a class"),
        ({"names": ["a", "b"], "colors": []}, "unknown key 'colors' (valid: names, palette"),
        (["a", "b"], "expected a mapping with names: [...]"),
    ],
)
def test_classes_yaml_errors_are_one_line(tmp_path: Path, data: object, expected: str) -> None:
    with pytest.raises(DataError) as error:
        read_classes(_classes(tmp_path, data))
    message = str(error.value)
    assert message.startswith(str(tmp_path / "classes.yaml")) and expected in message
    assert "\n" not in message


def test_prepare_counts_classes_and_maps_the_ignore_index(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "mine", ignore_index=250)
    report = prepare_dataset("folder", root, workers=1)
    assert report.ok and [p.name for p in report.stats_files] == [
        "pixl_class_stats_train.json",
        "pixl_class_stats_val.json",
    ]
    stats = load_stats(report.stats_files[0])
    assert len(stats.images) == 6 and stats.num_classes == 3
    dataset = build_dataset("folder", root, "train", train=False, crop_size=None, resize=None)
    for index, record in enumerate(dataset.records):
        on_disk = np.asarray(Image.open(record.label))
        label = dataset.read_label(index)
        assert (label[on_disk == 250] == IGNORE_INDEX).all() and (on_disk == 250).any()
        assert (label[on_disk < 3] == on_disk[on_disk < 3]).all()
        counts = stats.images[record.name]
        assert counts == {c: int((on_disk == c).sum()) for c in range(3) if (on_disk == c).any()}
    assert dataset[0]["label"].shape == (32, 32)


def test_an_unlabelled_split_needs_no_labels(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "target", {"train": 3}, labelled=False)
    report = prepare_dataset("folder", root, workers=1)
    assert report.ok and report.stats_files == []
    dataset = build_dataset(
        "folder", root, "train", train=True, crop_size=(16, 16), resize=None, labelled=False
    )
    assert len(dataset) == 3 and "label" not in dataset[0]
    with pytest.raises(DataError, match="missing labels/train"):
        build_dataset("folder", root, "train", train=False, crop_size=None, resize=None)


def _prepare(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["data", "prepare", "folder", str(root), "--workers", "1", "--no-progress"])
    return code, capsys.readouterr().err.strip().splitlines()


def test_bad_inputs_are_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_folder(tmp_path / "mine")
    labels = root / "labels" / "train"
    small = np.zeros((16, 32), dtype=np.uint8)
    Image.fromarray(small).save(labels / "train_01.png")  # wrong size
    outside = np.asarray(Image.open(labels / "train_02.png")).copy()
    outside[0, 0] = 7
    Image.fromarray(outside).save(labels / "train_02.png")  # id outside the 3 classes
    (labels / "train_03.png").unlink()  # an image without its label
    Image.fromarray(np.zeros((32, 32), dtype=np.uint16)).save(labels / "orphan.png")
    Image.fromarray(np.ones((32, 32), dtype=np.uint16)).save(labels / "train_04.png")  # 16-bit
    code, lines = _prepare(root, capsys)
    assert code == 1
    assert len(lines) == 5 and all(line.startswith("problem: ") for line in lines), lines
    expected = {
        "train_01.png": "label size (16, 32) differs from image size (32, 32)",
        "train_02.png": "label ids [7] are outside the 3 classes of classes.yaml",
        "train_03.png": "label missing for image train_03.png",
        "orphan.png": "label has no matching image",
        "train_04.png": "expected an 8-bit gray or palette PNG of class ids",
    }
    for name, text in expected.items():
        assert any(f"{labels / name}: {text}" in line for line in lines), (name, lines)
    assert not (root / "pixl_class_stats_train.json").exists()  # no statistics of a bad split
    assert (root / "pixl_class_stats_val.json").is_file()


def test_folder_level_errors_stop_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "mine")
    (root / "classes.yaml").unlink()
    code, lines = _prepare(root, capsys)
    assert code == 2 and lines == [
        f"error: {root / 'classes.yaml'}: missing; a folder dataset lists its classes there "
        "(names: [...])"
    ]
    empty = _classes(tmp_path / "empty", {"names": NAMES})
    code, lines = _prepare(empty, capsys)
    assert code == 2 and len(lines) == 1 and "no split folders" in lines[0]
