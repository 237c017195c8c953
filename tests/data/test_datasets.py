"""Reading prepared datasets: samples, transforms, subsets, errors."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pixl.core import IGNORE_INDEX
from pixl.data import build_dataset, dataset_info, prepare_dataset, read_subset
from pixl.data.splits import draw_nested_subsets
from pixl.data.transforms import denormalize, random_crop_at
from pixl.errors import DataError

from .data_fakes import make_cityscapes, make_gta5


@pytest.fixture()
def cityscapes(tmp_path: Path) -> Path:
    make_cityscapes(tmp_path, {"train": 4, "val": 2})
    prepare_dataset("cityscapes", tmp_path, workers=1)
    return tmp_path


def test_training_samples_are_named_and_cropped(cityscapes: Path) -> None:
    ds = build_dataset(
        "cityscapes", cityscapes, "train", train=True, crop_size=(16, 24), resize=None
    )
    sample = ds[0]
    assert set(sample) == {"image", "label", "name", "path", "frame_box"}
    assert sample["image"].shape == (3, 16, 24) and sample["image"].dtype == torch.float32
    top, left, frame_h, frame_w, flipped = sample["frame_box"].tolist()
    assert (frame_h, frame_w) == (32, 64) and 0 <= top <= 16 and 0 <= left <= 40
    full = build_dataset(
        "cityscapes", cityscapes, "train", train=False, crop_size=None, resize=None
    )[0]
    crop = full["image"][:, top : top + 16, left : left + 24]
    assert torch.equal(sample["image"], crop.flip(-1) if flipped else crop)
    assert sample["label"].shape == (16, 24) and sample["label"].dtype == torch.long
    assert sample["name"] == "aachen_000000_000019" and sample["path"].endswith("_leftImg8bit.png")
    values = set(sample["label"].unique().tolist())
    assert values <= set(range(19)) | {IGNORE_INDEX}
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 3, 16, 24) and len(batch["name"]) == 2


def test_evaluation_samples_are_full_and_resized(cityscapes: Path) -> None:
    ds = build_dataset("cityscapes", cityscapes, "val", train=False, crop_size=None, resize=None)
    assert len(ds) == 2 and ds[0]["image"].shape == (3, 32, 64)
    small = build_dataset(
        "cityscapes", cityscapes, "val", train=False, crop_size=None, resize=(16, 32)
    )
    assert small[0]["image"].shape == (3, 16, 32) and small[0]["label"].shape == (16, 32)
    torch.testing.assert_close(ds[1]["image"], ds[1]["image"])  # no randomness at evaluation


def test_flip_can_be_turned_off(cityscapes: Path) -> None:
    """Without crop and flip, a training sample is the evaluation sample, whatever the seed."""
    train = build_dataset(
        "cityscapes", cityscapes, "val", train=True, crop_size=None, resize=None, flip=False
    )
    full = build_dataset("cityscapes", cityscapes, "val", train=False, crop_size=None, resize=None)
    for seed in range(8):
        torch.manual_seed(seed)
        torch.testing.assert_close(train[0]["image"], full[0]["image"])
        assert torch.equal(train[0]["label"], full[0]["label"])


def test_unlabelled_samples_have_no_label(cityscapes: Path) -> None:
    ds = build_dataset(
        "cityscapes",
        cityscapes,
        "train",
        train=True,
        crop_size=(16, 16),
        resize=None,
        labelled=False,
    )
    assert "label" not in ds[0]


def test_crop_and_flip_keep_labels_aligned(tmp_path: Path) -> None:
    """Images painted with the palette colour of their label stay painted after the pipeline."""
    make_gta5(tmp_path, count=2)
    prepare_dataset("gta5", tmp_path, workers=1)
    palette = np.array([*dataset_info("gta5").palette, *[(255, 255, 255)] * 237], dtype=np.uint8)
    for label_path in (tmp_path / "labels").glob("*_labelTrainIds.png"):
        label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
        image_path = tmp_path / "images" / label_path.name.replace("_labelTrainIds", "")
        cv2.imwrite(str(image_path), palette[label][:, :, ::-1])
    ds = build_dataset("gta5", tmp_path, "train", train=True, crop_size=(20, 20), resize=None)
    torch.manual_seed(0)
    for _ in range(10):
        sample = ds[0]
        pixels = (denormalize(sample["image"][None])[0] * 255).round().byte().permute(1, 2, 0)
        np.testing.assert_array_equal(pixels.numpy(), palette[sample["label"].numpy()])


def test_same_torch_seed_same_sample(cityscapes: Path) -> None:
    ds = build_dataset("cityscapes", cityscapes, "train", train=True, crop_size=(8, 8), resize=None)
    torch.manual_seed(3)
    first = [ds[1]["label"] for _ in range(4)]
    torch.manual_seed(3)
    second = [ds[1]["label"] for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(torch.equal(first[0], b) for b in first[1:])


def test_cat_max_ratio_prefers_mixed_crops() -> None:
    label = np.zeros((32, 64), np.uint8)
    label[:, :8] = 1
    image = np.zeros((32, 64, 3), np.uint8)

    def mixed_fraction(ratio: float) -> float:
        ok = 0
        for seed in range(300):
            _, crop, _ = random_crop_at(
                image, label, (16, 16), np.random.default_rng(seed), cat_max_ratio=ratio
            )
            counts = np.bincount(crop.ravel(), minlength=2)
            ok += counts.max() / counts.sum() < 0.75
        return ok / 300

    assert mixed_fraction(0.75) > 0.4 > 0.2 > mixed_fraction(1.0)


def test_small_images_are_padded_with_ignore() -> None:
    image, label = np.ones((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)
    out_image, out_label, _ = random_crop_at(image, label, (8, 8), np.random.default_rng(0))
    assert out_image.shape == (8, 8, 3) and (out_label[4:] == IGNORE_INDEX).all()


def test_subset_files(cityscapes: Path, tmp_path: Path) -> None:
    subset = tmp_path / "subset.txt"
    subset.write_text("# labelled\nbochum_000001_000019\naachen_000002_000019\n")
    ds = build_dataset(
        "cityscapes",
        cityscapes,
        "train",
        train=False,
        crop_size=None,
        resize=None,
        subset_file=str(subset),
    )
    assert ds.names == ["bochum_000001_000019", "aachen_000002_000019"]
    subset.write_text("zurich_000000_000019\n")
    with pytest.raises(DataError, match="1 listed images are not in"):
        build_dataset(
            "cityscapes",
            cityscapes,
            "train",
            train=False,
            crop_size=None,
            resize=None,
            subset_file=str(subset),
        )


@pytest.mark.parametrize(
    ("name", "count"), [("cityscapes_1_30", 100), ("cityscapes_1_8", 372), ("cityscapes_1_4", 744)]
)
def test_shipped_splits(name: str, count: int) -> None:
    stems = read_subset(name)
    assert len(stems) == count and len(set(stems)) == count
    assert all(re.fullmatch(r"[a-z]+_\d{6}_\d{6}", s) for s in stems)


def test_shipped_splits_are_nested() -> None:
    assert set(read_subset("cityscapes_1_30")) <= set(read_subset("cityscapes_1_8"))
    assert set(read_subset("cityscapes_1_8")) <= set(read_subset("cityscapes_1_4"))


def test_errors_name_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        build_dataset("gta5", tmp_path / "none", "train", train=True, crop_size=None, resize=None)
    make_gta5(tmp_path, count=2)
    with pytest.raises(DataError, match=r"labels missing .* run `pixl data prepare gta5"):
        build_dataset("gta5", tmp_path, "train", train=True, crop_size=None, resize=None)
    with pytest.raises(DataError, match="no split 'val'"):
        build_dataset("gta5", tmp_path, "val", train=True, crop_size=None, resize=None)
    with pytest.raises(DataError, match="unknown"):
        build_dataset("kitti", tmp_path, "train", train=True, crop_size=None, resize=None)


def test_label_size_mismatch_at_load(cityscapes: Path) -> None:
    path = next(cityscapes.glob("gtFine/val/*/*_labelTrainIds.png"))
    cv2.imwrite(str(path), np.zeros((8, 8), np.uint8))
    ds = build_dataset("cityscapes", cityscapes, "val", train=False, crop_size=None, resize=None)
    with pytest.raises(DataError, match="differs from image size"):
        [ds[i] for i in range(len(ds))]


def test_shipped_splits_are_reproducible_from_the_quarter() -> None:
    eighth, thirtieth = draw_nested_subsets(read_subset("cityscapes_1_4"), [372, 100], seed=0)
    assert eighth == read_subset("cityscapes_1_8") and thirtieth == read_subset("cityscapes_1_30")
