"""The one segmentation Dataset every layout is read through, and ``build_dataset``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from pixl.data.io import read_image
from pixl.data.kinds import get_kind
from pixl.data.layouts import Record
from pixl.data.splits import read_subset
from pixl.data.stats import class_stats_path, load_stats
from pixl.data.transforms import (
    label_tensor,
    normalize_image,
    random_crop_at,
    random_flip_flag,
    resize_pair,
)
from pixl.errors import DataError

Sample = dict[str, Any]


@dataclass(frozen=True)
class PipelineConfig:
    """What ``sample`` does after reading: resize, then (train) random crop + flip."""

    train: bool
    crop_size: tuple[int, int] | None
    resize: tuple[int, int] | None
    cat_max_ratio: float = 1.0
    flip: bool = True


class SegmentationDataset(Dataset[Sample]):
    """Images (and ``*_labelTrainIds.png`` labels) of one split, as named samples.

    A sample is ``{"image": FloatTensor[3, H, W] (ImageNet-normalised), "label": LongTensor[H, W]
    (absent when unlabelled), "name": str, "path": str}``; training samples add ``"frame_box"``,
    LongTensor[5] ``(top, left, frame height, frame width, flipped)``: where the crop lies in the
    (resized) frame, for margins that belong to the frame (HRDA's pseudo-label margins).
    ``sample(i, rng)`` is a pure function of ``i`` and ``rng``; ``__getitem__`` seeds the rng
    from torch's RNG, which the DataLoader seeds per worker, so a seeded loader is reproducible.
    """

    def __init__(
        self,
        kind: str,
        root: Path,
        split: str,
        records: Sequence[Record],
        pipeline: PipelineConfig,
        *,
        labelled: bool,
        label_lut: np.ndarray | None = None,
    ) -> None:
        self.kind, self.root, self.split = kind, root, split
        self.records = list(records)
        self.pipeline = pipeline
        self.labelled = labelled
        self.names = [r.name for r in self.records]
        # Label-file value -> train id (-1: outside the class list); None reads files as is.
        self.label_lut = label_lut
        self._read_label = get_kind(kind).read_label

    def read_label(self, index: int) -> np.ndarray:
        """Train ids ``[H, W]`` (uint8, void = IGNORE_INDEX) of item ``index``, at full size."""
        path = self.records[index].label
        label = self._read_label(path)
        if self.label_lut is None:
            return label
        mapped = self.label_lut[label]
        if (mapped < 0).any():
            bad = sorted({int(v) for v in np.unique(label[mapped < 0])})
            raise DataError(f"{path}: label ids {bad[:8]} are outside the class list")
        return mapped.astype(np.uint8)

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw uint8 image ``[H, W, 3]`` and train ids ``[H, W]`` (None when unlabelled)."""
        record = self.records[index]
        image = read_image(record.image)
        if not self.labelled:
            return image, None
        label = self.read_label(index)
        if label.shape != image.shape[:2]:
            raise DataError(
                f"{record.label}: label size {label.shape} differs from image size "
                f"{image.shape[:2]} of {record.image.name}"
            )
        return image, label

    def sample(self, index: int, rng: np.random.Generator) -> Sample:
        """Read and transform item ``index`` with the randomness of ``rng``."""
        image, label = self.load(index)
        cfg = self.pipeline
        if cfg.resize is not None:
            image, label = resize_pair(image, label, cfg.resize)
        frame_h, frame_w = image.shape[:2]
        top = left = flipped = 0
        if cfg.train:
            if cfg.crop_size is not None:
                image, label, (top, left) = random_crop_at(
                    image, label, cfg.crop_size, rng, cat_max_ratio=cfg.cat_max_ratio
                )
            if cfg.flip:
                image, label, flipped = random_flip_flag(image, label, rng)
        record = self.records[index]
        out: Sample = {"image": normalize_image(image), "name": record.name}
        out["path"] = str(record.image)
        if cfg.train:  # where the crop lies in the (resized) frame: pseudo-label margins
            out["frame_box"] = torch.tensor([top, left, frame_h, frame_w, int(flipped)])
        if label is not None:
            out["label"] = label_tensor(label)
        return out

    def __getitem__(self, index: int) -> Sample:
        seed = int(torch.randint(0, 2**62, (1,)).item()) if self.pipeline.train else index
        return self.sample(index, np.random.default_rng(seed))


def _check_size(name: str, size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    values = tuple(int(v) for v in size)
    if len(values) != 2 or min(values) <= 0:
        raise DataError(f"{name} must be two positive integers (height, width), got {size!r}")
    return values  # type: ignore[return-value]


def without_left_out(records: list[Record], root: Path, split: str) -> list[Record]:
    """The records minus the images ``pixl data prepare`` left out of the split (no label)."""
    path = class_stats_path(root, split)
    if not path.is_file():
        return records
    left_out = load_stats(path).left_out
    return [r for r in records if r.name not in left_out] if left_out else records


def build_dataset(
    kind: str,
    root: str | Path,
    split: str,
    *,
    train: bool,
    crop_size: tuple[int, int] | None,
    resize: tuple[int, int] | None,
    labelled: bool = True,
    subset_file: str | None = None,
    cat_max_ratio: float = 1.0,
    flip: bool = True,
) -> SegmentationDataset:
    """A dataset of ``kind`` (see ``pixl.data.kinds``) and ``split``.

    ``train=True``: resize, random crop (``cat_max_ratio`` redraws crops dominated by one class),
    horizontal flip (unless ``flip=False``: mirrored digits change identity), normalise;
    ``train=False``: resize and normalise the full image.
    ``subset_file``: a shipped split name (see ``pixl.data.splits.SHIPPED_SPLITS``) or a text
    file of stems, one per line, to keep. Missing folders or labels raise ``DataError``.
    """
    root = Path(root)
    descriptor = get_kind(kind)
    descriptor.check_split(split, root)
    if not 0.0 < cat_max_ratio <= 1.0:
        raise DataError(f"cat_max_ratio must be in (0, 1], got {cat_max_ratio}")
    records = descriptor.records(root, split, labels=labelled)
    if subset_file is not None:
        keep = read_subset(subset_file)
        by_name = {r.name: r for r in records}
        absent = [name for name in keep if name not in by_name]
        if absent:
            raise DataError(
                f"{subset_file}: {len(absent)} listed images are not in {root} split {split} "
                f"(first: {absent[0]})"
            )
        records = [by_name[name] for name in keep]
    if labelled:
        records = without_left_out(records, root, split)
        missing = [r.label for r in records if not r.label.is_file()]
        if missing:
            raise DataError(
                f"{root}: {len(missing)} of {len(records)} {split} labels missing (first: "
                f"{missing[0]}); run `pixl data prepare {kind} {root}`"
            )
    pipeline = PipelineConfig(
        train,
        _check_size("crop_size", crop_size),
        _check_size("resize", resize),
        cat_max_ratio,
        flip,
    )
    # A user's folder is checked on every read (ids outside its class list, its own void value).
    lut = descriptor.info(root).label_lut() if labelled and descriptor.classes is None else None
    return SegmentationDataset(
        kind, root, split, records, pipeline, labelled=labelled, label_lut=lut
    )
