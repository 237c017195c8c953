"""Endless, resumable, per-rank training loaders (evaluation loads in ``evaluation.runner``).

Every index a training loader yields is a pure function of (seed, rank, position), so a resumed
run skips exactly the ``step x batch_size`` items already consumed and continues the same
sequence. Random crops draw from torch's RNG in the main process when ``num_workers`` is 0 (the
checkpoint restores it), so resuming is then bit-exact; with workers the worker seeds come from a
loader generator seeded per rank (reproducible, not bit-exact across a resume).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from pixl.config.schema import DatasetSpec, RCSConfig


class ShardedShuffle(Sampler[int]):
    """Endless: epoch e is ``permutation(size)`` seeded by (seed, e), ranks take every world-th.

    ``start`` items are skipped (a resumed run).
    """

    def __init__(
        self, size: int, *, seed: int, rank: int = 0, world_size: int = 1, start: int = 0
    ) -> None:
        if size < 1:
            raise ValueError("cannot sample from an empty dataset")
        self.size, self.seed, self.rank, self.world_size = size, seed, rank, world_size
        self.start = start

    def __iter__(self) -> Iterator[int]:
        skip = self.start
        for epoch in itertools.count():
            order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
            shard = order[self.rank :: self.world_size]
            if skip >= len(shard):
                skip -= len(shard)
                continue
            yield from shard[skip:].tolist()
            skip = 0


class Skip(Sampler[Any]):
    """An endless sampler without its first ``start`` items."""

    def __init__(self, sampler: Iterable[Any], start: int) -> None:
        self.sampler, self.start = sampler, start

    def __iter__(self) -> Iterator[Any]:
        return itertools.islice(iter(self.sampler), self.start, None)


def train_loader(
    spec: DatasetSpec,
    *,
    labelled: bool,
    batch_size: int,
    num_workers: int,
    seed: int,
    rank: int,
    world_size: int,
    start_batch: int,
    rcs: RCSConfig | None = None,
) -> DataLoader:
    """An endless loader of ``spec`` (random crop + flip) starting after ``start_batch`` batches.

    With ``rcs`` (enabled) the images are drawn by rare class sampling (labelled sets only).
    """
    from pixl.data import build_dataset, rare_class_sampling

    dataset: Dataset[Any] = build_dataset(
        spec.kind,
        spec.root,
        spec.split,
        train=True,
        crop_size=spec.crop_size,
        resize=spec.resize,
        labelled=labelled,
        subset_file=spec.subset_file,
        cat_max_ratio=spec.cat_max_ratio,
        flip=spec.flip,
    )
    start = start_batch * batch_size
    sampler: Sampler[Any]
    if rcs is not None and rcs.enabled and labelled:
        dataset, rcs_sampler = rare_class_sampling(
            dataset,  # type: ignore[arg-type]
            seed=seed,
            rank=rank,
            temperature=rcs.temperature,
            min_pixels=rcs.min_pixels,
            min_crop_ratio=rcs.min_crop_ratio,
            max_retries=rcs.max_retries,
        )
        sampler = Skip(rcs_sampler, start)
    else:
        sampler = ShardedShuffle(
            len(dataset),  # type: ignore[arg-type]
            seed=seed,
            rank=rank,
            world_size=world_size,
            start=start,
        )
    # More workers than cores only adds processes that wait (and memory).
    num_workers = min(num_workers, os.cpu_count() or 1)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=True,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed * 1000 + rank),
    )


class BatchStream:
    """``next()`` on an endless loader, re-creating its iterator lazily."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self._iterator: Iterator[Any] | None = None

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self.loader)
        return next(self._iterator)
