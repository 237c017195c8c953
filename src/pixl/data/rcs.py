"""Rare class sampling (DAFormer): draw a class by rarity, then an image holding enough of it.

``P(c) = softmax((1 - f_c) / T)`` over the classes present, ``f_c`` the pixel fraction of class c.
An image is eligible for c with ``>= min_pixels`` pixels of c (full-resolution statistics from
``pixl data prepare``); its random crop is redrawn up to ``max_retries`` times until it holds
``>= min_pixels * min_crop_ratio`` pixels of c (ratio 0.5, or 2.0 for HRDA crops).

The sampler yields ``RcsDraw`` items (index, class, seed) that ``RareClassDataset`` turns into
samples: every draw is a pure function of (seed, rank, epoch, position), so a run is
reproducible whatever the number of DataLoader workers, and DDP ranks draw differently. With
Lightning Fabric, set up the loader with ``use_distributed_sampler=False``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from pixl.data.dataset import Sample, SegmentationDataset
from pixl.data.stats import ClassStats, class_stats_path, load_stats
from pixl.errors import DataError


class RcsDraw(NamedTuple):
    """One rare-class draw: dataset index, the class it was drawn for, the crop seed."""

    index: int
    class_id: int
    seed: int


def rcs_class_probabilities(
    freqs: np.ndarray | torch.Tensor, temperature: float = 0.01, available: np.ndarray | None = None
) -> np.ndarray:
    """``softmax((1 - f) / T)`` over available classes (default: ``f > 0``), 0 elsewhere.

    ``freqs`` may be pixel counts or fractions; they are normalised to sum to 1 first.
    Shape: [C] -> [C] (float64, sums to 1).
    """
    if temperature <= 0:
        raise DataError(f"RCS temperature must be > 0, got {temperature}")
    f = np.asarray(freqs, dtype=np.float64)
    if f.ndim != 1 or f.sum() <= 0 or (f < 0).any():
        raise DataError(f"RCS needs non-negative class frequencies with a positive sum, got {f}")
    f = f / f.sum()
    mask = f > 0 if available is None else np.asarray(available, dtype=bool) & (f > 0)
    if not mask.any():
        raise DataError("RCS: no class is available for sampling")
    logits = np.where(mask, (1.0 - f) / temperature, -np.inf)
    logits -= logits[mask].max()
    probs = np.where(mask, np.exp(logits), 0.0)
    return probs / probs.sum()


class RareClassSampler(Sampler[RcsDraw]):
    """Draws ``num_samples`` rare-class items per epoch (``None``: endless)."""

    def __init__(
        self,
        stats: ClassStats,
        names: list[str],
        *,
        temperature: float = 0.01,
        min_pixels: int = 3000,
        seed: int = 0,
        rank: int = 0,
        num_samples: int | None = None,
    ) -> None:
        index_of = {name: i for i, name in enumerate(names)}
        unknown = [name for name in stats.images if name not in index_of]
        if unknown:
            raise DataError(
                f"RCS statistics of {stats.split} name {len(unknown)} images missing from the "
                f"dataset (first: {unknown[0]}); re-run `pixl data prepare`"
            )
        self.eligible = [
            np.array(
                [
                    index_of[n]
                    for n, counts in stats.images.items()
                    if counts.get(c, 0) >= min_pixels
                ],
                dtype=np.int64,
            )
            for c in range(stats.num_classes)
        ]
        available = np.array([len(e) > 0 for e in self.eligible])
        if not available.any():
            raise DataError(f"RCS: no image of {stats.split} has {min_pixels} pixels of any class")
        self.probabilities = rcs_class_probabilities(stats.pixel_counts, temperature, available)
        self.seed, self.rank, self.epoch = seed, rank, 0
        self.num_samples = num_samples

    def set_epoch(self, epoch: int) -> None:
        """Draw a different sequence each epoch (like ``DistributedSampler``)."""
        self.epoch = epoch

    def __len__(self) -> int:
        if self.num_samples is None:
            raise TypeError("an endless RareClassSampler has no length")
        return self.num_samples

    def __iter__(self) -> Iterator[RcsDraw]:
        rng = np.random.default_rng([self.seed, self.rank, self.epoch])
        classes = np.arange(len(self.probabilities))
        drawn = 0
        while self.num_samples is None or drawn < self.num_samples:
            c = int(rng.choice(classes, p=self.probabilities))
            index = int(rng.choice(self.eligible[c]))
            yield RcsDraw(index, c, int(rng.integers(0, 2**62)))
            drawn += 1


class RareClassDataset(Dataset[Sample]):
    """Turns ``RcsDraw`` items into samples of ``dataset``, re-cropping for the drawn class."""

    def __init__(
        self,
        dataset: SegmentationDataset,
        *,
        min_pixels: int = 3000,
        min_crop_ratio: float = 0.5,
        max_retries: int = 10,
    ) -> None:
        self.dataset = dataset
        self.min_pixels, self.min_crop_ratio, self.max_retries = (
            min_pixels,
            min_crop_ratio,
            max_retries,
        )

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, draw: RcsDraw) -> Sample:  # type: ignore[override]
        rng = np.random.default_rng(draw.seed)
        needed = self.min_pixels * self.min_crop_ratio
        for _ in range(self.max_retries):
            sample = self.dataset.sample(draw.index, rng)
            if int((sample["label"] == draw.class_id).sum()) >= needed:
                break
        return sample


def rare_class_sampling(
    dataset: SegmentationDataset,
    *,
    seed: int,
    rank: int = 0,
    stats: ClassStats | None = None,
    temperature: float = 0.01,
    min_pixels: int = 3000,
    min_crop_ratio: float = 0.5,
    max_retries: int = 10,
    num_samples: int | None = None,
) -> tuple[RareClassDataset, RareClassSampler]:
    """RCS over a labelled training ``dataset``: pass both to ``DataLoader(ds, sampler=s)``.

    ``stats`` defaults to the JSON ``pixl data prepare`` wrote for the dataset's split.
    """
    if not dataset.labelled:
        raise DataError("rare class sampling needs a labelled dataset")
    if stats is None:
        stats = load_stats(class_stats_path(dataset.root, dataset.split))
    if len(dataset.names) != len(stats.images):  # a subset: keep the stats of its images
        keep = set(dataset.names)
        stats = ClassStats(
            stats.kind,
            stats.split,
            stats.num_classes,
            {n: c for n, c in stats.images.items() if n in keep},
        )
    sampler = RareClassSampler(
        stats,
        dataset.names,
        temperature=temperature,
        min_pixels=min_pixels,
        seed=seed,
        rank=rank,
        num_samples=num_samples,
    )
    wrapped = RareClassDataset(
        dataset, min_pixels=min_pixels, min_crop_ratio=min_crop_ratio, max_retries=max_retries
    )
    return wrapped, sampler
