"""Rare class sampling: the softmax formula, eligibility, re-crops, seeds and ranks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from torch.utils.data import DataLoader

from pixl.data import (
    ClassStats,
    RareClassSampler,
    build_dataset,
    prepare_dataset,
    rare_class_sampling,
    rcs_class_probabilities,
)
from pixl.errors import DataError

from .data_fakes import make_cityscapes


def test_probabilities_follow_the_softmax_formula() -> None:
    counts = np.array([700.0, 200.0, 80.0, 20.0, 0.0])
    f = counts / counts.sum()
    for temperature in (0.01, 0.1, 1.0):
        expected = np.exp((1 - f[:4]) / temperature)
        expected /= expected.sum()
        probs = rcs_class_probabilities(counts, temperature)
        np.testing.assert_allclose(probs[:4], expected, rtol=1e-12)
        assert probs[4] == 0.0
    assert rcs_class_probabilities(torch.tensor(counts)).argmax() == 3  # rarest present
    with pytest.raises(DataError):
        rcs_class_probabilities(counts, temperature=0.0)


def synthetic_stats(num_images: int = 60, seed: int = 0) -> ClassStats:
    rng = np.random.default_rng(seed)
    images = {}
    for i in range(num_images):
        counts = {0: int(rng.integers(2000, 9000))}
        for c in (1, 2, 3):
            if rng.random() < 0.5:
                counts[c] = int(rng.integers(100, 6000 // c))
        images[f"img{i:03d}"] = counts
    return ClassStats("cityscapes", "train", 4, images)


def test_drawn_class_frequencies_match_the_formula() -> None:
    stats = synthetic_stats()
    names = list(stats.images)
    sampler = RareClassSampler(
        stats, names, temperature=0.1, min_pixels=500, seed=0, num_samples=20000
    )
    draws = list(sampler)
    observed = np.bincount([d.class_id for d in draws], minlength=4)
    available = [len(e) > 0 for e in sampler.eligible]
    expected = rcs_class_probabilities(stats.pixel_counts, 0.1, np.array(available))
    keep = expected > 0
    assert chisquare(observed[keep], expected[keep] * len(draws)).pvalue > 0.001
    for draw in draws[:500]:  # the image holds enough of the class
        assert stats.images[names[draw.index]].get(draw.class_id, 0) >= 500


def test_seeds_and_ranks() -> None:
    stats = synthetic_stats()
    names = list(stats.images)

    def run(seed: int, rank: int, epoch: int = 0) -> list:
        sampler = RareClassSampler(
            stats, names, seed=seed, rank=rank, min_pixels=500, num_samples=50
        )
        sampler.set_epoch(epoch)
        return list(sampler)

    assert run(0, 0) == run(0, 0)
    assert run(0, 0) != run(0, 1)
    assert run(0, 0) != run(1, 0)
    assert run(0, 0) != run(0, 0, epoch=1)


def test_unknown_images_in_stats_are_an_error() -> None:
    with pytest.raises(DataError, match="missing from the dataset"):
        RareClassSampler(synthetic_stats(), ["other"], min_pixels=500)


def test_rare_class_crops_hold_the_class(tmp_path: Path) -> None:
    make_cityscapes(tmp_path, {"train": 6, "val": 1})
    prepare_dataset("cityscapes", tmp_path, workers=1)
    ds = build_dataset("cityscapes", tmp_path, "train", train=True, crop_size=(16, 16), resize=None)
    wrapped, sampler = rare_class_sampling(
        ds, seed=0, min_pixels=64, min_crop_ratio=0.5, temperature=0.5, num_samples=40
    )
    loader = DataLoader(wrapped, sampler=sampler, batch_size=4, num_workers=0)
    batches = list(loader)
    assert len(batches) == 10 and batches[0]["image"].shape == (4, 3, 16, 16)
    draws = list(sampler)
    hits = sum(int((wrapped[d]["label"] == d.class_id).sum()) >= 32 for d in draws)
    plain = sum(
        int((ds.sample(d.index, np.random.default_rng(i))["label"] == d.class_id).sum()) >= 32
        for i, d in enumerate(draws)
    )
    assert hits > 2 * plain and hits >= 0.5 * len(draws)
    again = [wrapped[d]["label"] for d in draws[:5]]
    assert all(torch.equal(a, wrapped[d]["label"]) for a, d in zip(again, draws[:5], strict=True))
