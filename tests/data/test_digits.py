"""DigitScenes: deterministic generation, read back by the shared loader."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from pixl.cli import main
from pixl.data import build_dataset, dataset_info, generate_digit_scenes, is_prepared, load_stats
from pixl.data.digits import _digit_pools, render_scene
from pixl.errors import DataError

TINY = {"source_train": 6, "target_train": 6, "target_val": 3}


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_images(tmp_path: Path) -> None:
    generate_digit_scenes(tmp_path / "a", seed=0, sizes=TINY, image_size=48)
    generate_digit_scenes(tmp_path / "b", seed=0, sizes=TINY, image_size=48, workers=2)
    generate_digit_scenes(tmp_path / "c", seed=1, sizes=TINY, image_size=48)
    first, second, third = (digests(tmp_path / n) for n in "abc")
    assert first == second and len(first) == 2 * 15 + 3 + 1 + 1 + 1  # pngs, stats, card, ...
    images = [k for k in first if k.endswith("_leftImg8bit.png")]
    assert all(first[k] != third[k] for k in images)


def test_read_back_with_the_shared_loader(tmp_path: Path) -> None:
    report = generate_digit_scenes(tmp_path, seed=0, sizes=TINY, image_size=48)
    assert report.converted == 15 and is_prepared("digits", tmp_path)
    train = build_dataset(
        "digits", tmp_path, "source_train", train=True, crop_size=(32, 32), resize=None
    )
    sample = train[0]
    assert sample["image"].shape == (3, 32, 32) and sample["name"].startswith("synth_train_")
    val = build_dataset("digits", tmp_path, "target_val", train=False, crop_size=None, resize=None)
    labels = np.concatenate([val[i]["label"].numpy().ravel() for i in range(len(val))])
    assert labels.max() <= 10 and (labels > 0).any() and (labels == 0).any()
    ssl = build_dataset(
        "digits",
        tmp_path,
        "target_train",
        train=False,
        crop_size=None,
        resize=None,
        subset_file=str(tmp_path / "splits" / "target_train_1_30.txt"),
    )
    assert len(ssl) == 1
    stats = load_stats(tmp_path / "pixl_class_stats_source_train.json")
    assert len(stats.images) == 6 and stats.num_classes == dataset_info("digits").num_classes
    card = (tmp_path / "dataset_card.md").read_text()
    assert "| source_train | synth | 6 |" in card and "| background |" in card


def test_rerun_skips_and_other_parameters_refused(tmp_path: Path) -> None:
    generate_digit_scenes(tmp_path, seed=0, sizes=TINY, image_size=48)
    again = generate_digit_scenes(tmp_path, seed=0, sizes=TINY, image_size=48)
    assert (again.converted, again.skipped) == (0, 15)
    with pytest.raises(DataError, match="delete the folder or use another one"):
        generate_digit_scenes(tmp_path, seed=1, sizes=TINY, image_size=48)


def test_folder_from_an_older_generator_is_refused(tmp_path: Path) -> None:
    import json

    import pixl.data.digits as digits

    generate_digit_scenes(tmp_path, seed=0, sizes=TINY, image_size=48)
    assert is_prepared("digits", tmp_path)
    manifest = tmp_path / digits.MANIFEST
    old = {**json.loads(manifest.read_text()), "version": digits.GENERATOR_VERSION - 1}
    manifest.write_text(json.dumps(old))
    assert not is_prepared("digits", tmp_path)  # the demo would regenerate ...
    with pytest.raises(DataError, match=r"version .*delete the folder"):  # ... and is told why
        generate_digit_scenes(tmp_path, seed=0, sizes=TINY, image_size=48)


def test_digit_boxes_never_overlap() -> None:
    from pixl.data.digits import _free_box

    rng = np.random.default_rng(0)
    for _ in range(50):
        boxes: list[tuple[int, int, int]] = []
        for side in rng.integers(20, 60, size=6):
            corner = _free_box(rng, 128, int(side), boxes)
            if corner is not None:
                boxes.append((*corner, int(side)))
        mask = np.zeros((128, 128), dtype=int)
        for top, left, side in boxes:
            mask[top : top + side, left : left + side] += 1
        assert mask.max() == 1 and len(boxes) >= 1
    assert _free_box(rng, 64, 64, [(0, 0, 64)]) is None  # a full canvas has no room


def test_scenes_hold_two_to_five_digits() -> None:
    counts = []
    for seed in range(30):
        _, label = render_scene("synth", np.random.default_rng(seed), 128)
        counts.append(len(np.unique(label)) - 1)  # distinct digit classes present
    assert min(counts) >= 1 and max(counts) <= 5 and np.mean(counts) >= 2.5


def test_domains_and_digit_samples_differ() -> None:
    pools = _digit_pools()
    source, target = pools["synth"][0], pools["photo"][0]
    assert len(source) + len(target) == 1797
    synth_image, synth_label = render_scene("synth", np.random.default_rng(0), 64)
    photo_image, photo_label = render_scene("photo", np.random.default_rng(0), 64)
    assert synth_image.shape == photo_image.shape == (64, 64, 3)
    assert synth_label.max() > 0 and photo_label.max() > 0
    # photo backgrounds are textured: many more distinct colours than flat/gradient ones
    count = lambda im: len(np.unique(im.reshape(-1, 3), axis=0))  # noqa: E731
    assert count(photo_image[photo_label == 0]) > count(synth_image[synth_label == 0])


def test_cli_generates_digits(tmp_path: Path, monkeypatch) -> None:
    import pixl.data.digits as digits

    monkeypatch.setattr(digits, "DEFAULT_SIZES", TINY)
    assert (
        main(["data", "prepare", "digits", str(tmp_path), "--workers", "1", "--no-progress"]) == 0
    )
    assert is_prepared("digits", tmp_path)


def test_rerun_verifies_existing_files_and_rewrites_bad_ones(tmp_path: Path) -> None:
    generate_digit_scenes(tmp_path, seed=0, sizes=TINY, image_size=48)
    images = sorted((tmp_path / "leftImg8bit").rglob("*.png"))
    labels = sorted((tmp_path / "gtFine").rglob("*.png"))
    good_image, good_label = images[0].read_bytes(), labels[1].read_bytes()
    images[0].write_bytes(b"not a png")  # corrupt
    labels[1].write_bytes(good_label[: len(good_label) // 2])  # truncated
    again = generate_digit_scenes(tmp_path, seed=0, sizes=TINY, image_size=48)
    assert again.problems == [
        f"{images[0]}: cannot decode (corrupt or truncated); written again",
        f"{labels[1]}: cannot decode (corrupt or truncated); written again",
    ]
    assert (again.converted, again.skipped) == (2, 13)
    assert images[0].read_bytes() == good_image and labels[1].read_bytes() == good_label
    assert generate_digit_scenes(tmp_path, seed=0, sizes=TINY, image_size=48).ok
