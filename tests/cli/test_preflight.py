"""Principles 4-6 where the user meets them: `pixl train` and `pixl check` catch, before the first
step, classes that disagree between source and target, files that do not open or whose sizes
differ, and mixed sizes without a crop; evaluation takes val frames of different sizes; `pixl
check --batch 1` works on DeepLabV3+; EXIF-rotated photos are read upright everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from data.folder_fakes import NAMES, TINY, make_folder, scene
from pixl.cli import main

CPU = ["trainer.accelerator=cpu", "trainer.num_workers=0"]
TINY_MODEL = "model.options={encoder: resnet18, encoder_weights: null, embed_dim: 16}"


def _uda(tmp_path: Path, target_classes: dict | None) -> list[str]:
    source = make_folder(tmp_path / "source", {"train": 4})
    target = make_folder(tmp_path / "target", {"train": 4, "val": 2}, classes=target_classes)
    for root in (source, target):
        assert main(["data", "prepare", "folder", str(root), "--workers", "1"]) == 0
    roots = [f"data.labelled.root={source}", f"data.unlabelled.root={target}"]
    return [*roots, f"data.val.root={target}", f"output_dir={tmp_path / 'runs'}"]


@pytest.mark.parametrize(
    ("names", "expected"),
    [(NAMES[::-1], "the same names in another order"), ([*NAMES, "extra"], "4 classes")],
)
@pytest.mark.parametrize("command", ["train", "check"])
def test_uda_folders_whose_classes_disagree_stop_before_step_one(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    expected: str,
    command: str,
) -> None:
    overrides = _uda(tmp_path, {"names": names})
    capsys.readouterr()
    crops = [f"data.{key}.crop_size=[32, 32]" for key in ("labelled", "unlabelled")]
    assert main([command, "folder/uda", *overrides, *TINY, *crops]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: data.") and expected in error and error.count("\n") == 1
    assert not (tmp_path / "runs" / "folder_uda").exists()


def test_labelled_and_unlabelled_crops_of_other_sizes_stop_before_step_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = _uda(tmp_path, None)
    assert main(["train", "folder/uda", *overrides, *TINY, "data.labelled.crop_size=[32, 32]"]) == 2
    assert "data.unlabelled.crop_size [256, 256] differs" in capsys.readouterr().err


def _supervised(root: Path, tmp_path: Path, *extra: str) -> list[str]:
    overrides = [f"data.labelled.root={root}", f"data.val.root={root}"]
    return [*overrides, f"output_dir={tmp_path / 'runs'}", *TINY, *extra]


def test_a_corrupt_val_image_fails_check_and_a_broken_one_fails_train_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "mine")
    truncated = root / "images" / "val" / "val_01.png"
    truncated.write_bytes(truncated.read_bytes()[:-40])  # the header still opens
    argv = _supervised(root, tmp_path, "data.labelled.crop_size=[32, 32]")
    assert main(["check", "folder/supervised", *argv]) == 2
    error = capsys.readouterr().err
    assert "data.val" in error and "1 of 2 files cannot be used" in error and "val_01.png" in error

    (root / "images" / "val" / "val_01.png").write_bytes(b"not an image")
    assert main(["train", "folder/supervised", *argv]) == 2
    assert "val_01.png" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "folder_supervised").exists()


def test_a_label_of_another_size_fails_train_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "mine")
    Image.fromarray(np.zeros((20, 32), np.uint8)).save(root / "labels" / "train" / "train_03.png")
    assert main(["train", "folder/supervised", *_supervised(root, tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "train_03.png: label size (20, 32) differs from image size (32, 32)" in error


def _mixed(root: Path) -> Path:
    """Make the last image (and label) of every split 40x48, the others stay 32x32."""
    rng = np.random.default_rng(1)
    for split in ("train", "val"):
        image, label = scene(rng, 48, 255)
        last = sorted((root / "images" / split).iterdir())[-1]
        Image.fromarray(image[:40]).save(last)
        Image.fromarray(label[:40]).save(root / "labels" / split / f"{last.stem}.png")
    return root


def test_training_on_mixed_sizes_without_a_crop_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _mixed(make_folder(tmp_path / "mine"))
    argv = _supervised(root, tmp_path, "data.labelled.crop_size=null")
    assert main(["train", "folder/supervised", *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: data.labelled: images differ in size")
    assert "data.labelled.crop_size" in error


@pytest.mark.slow
def test_a_val_split_of_mixed_sizes_is_scored_in_batches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _mixed(make_folder(tmp_path / "mine", {"train": 4, "val": 3}))
    # resize + batch 8: the images stack, their full-size labels differ; and whole frames, batch 3
    for extra in (["data.val.resize=[32, 32]"], ["eval.batch_size=3", "name=whole"]):
        argv = _supervised(root, tmp_path, "data.labelled.crop_size=[32, 32]", *extra)
        assert main(["train", "folder/supervised", *argv]) == 0
        assert "mIoU" in capsys.readouterr().out


@pytest.mark.parametrize("config", ["folder/supervised", "folder/semi", "folder/uda"])
def test_check_batch_one_works_on_deeplab(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str
) -> None:
    if config == "folder/uda":
        overrides = _uda(tmp_path, None)
    else:
        splits = {"train": 2, "labelled": 2, "unlabelled": 2, "val": 2}
        root = make_folder(tmp_path / "mine", splits)
        overrides = [f"data.{key}.root={root}" for key in ("labelled", "val")]
        if config == "folder/semi":
            overrides.append(f"data.unlabelled.root={root}")
    crops = [f"data.{key}.crop_size=[32, 32]" for key in ("labelled", "unlabelled")]
    if config == "folder/supervised":
        crops = crops[:1]
    argv = ["check", config, *overrides, TINY_MODEL, *CPU, *crops]
    assert main([*argv, "--batch", "1"]) == 0
    out = capsys.readouterr().out
    assert "note: batch 2, not 1: a BatchNorm layer of the model needs at least 2" in out


def _rotated_photo(root: Path) -> tuple[int, int]:
    """Replace train_00.jpg by a photo stored 32 wide x 24 high with EXIF orientation 6 (shown
    turned: 24 wide x 32 high), and give it a label in the displayed orientation."""
    rng = np.random.default_rng(2)
    upright, label = scene(rng, 32, 255)
    upright, label = upright[:, :24], label[:, :24]  # displayed: 32 high, 24 wide
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # 24 high, 32 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    stored.save(root / "images" / "train" / "train_00.jpg", exif=exif, quality=95)
    Image.fromarray(label).save(root / "labels" / "train" / "train_00.png")
    return label.shape


@pytest.mark.slow
def test_exif_rotated_photos_are_read_upright_by_prepare_train_and_predict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "mine")
    shape = _rotated_photo(root)
    assert main(["data", "prepare", "folder", str(root), "--workers", "1", "--strict"]) == 0
    argv = _supervised(root, tmp_path, "data.labelled.crop_size=[32, 32]")
    assert main(["check", "folder/supervised", *argv]) == 0  # every file decoded: sizes agree
    assert main(["train", "folder/supervised", *argv]) == 0
    weights = tmp_path / "runs" / "folder_supervised" / "final" / "model.safetensors"
    photo = root / "images" / "train" / "train_00.jpg"
    out = tmp_path / "out"
    argv = ["predict", "--checkpoint", str(weights), "--input", str(photo), "--output", str(out)]
    assert main(argv) == 0
    assert np.asarray(Image.open(out / "train_00.png")).shape == shape
    assert yaml.safe_load((root / "classes.yaml").read_text())["names"] == NAMES
