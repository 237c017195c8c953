"""Folder layouts: where each image, raw label and train-id label of a split lives.

A ``Layout`` is data (folders and file-name endings); ``pixl.data.kinds`` gives each kind one:

- Cityscapes: ``leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png`` and
  ``gtFine/{split}/{city}/{stem}_gtFine_labelIds.png`` -> ``..._gtFine_labelTrainIds.png``.
- GTA5: ``images/{stem}.png`` and ``labels/{stem}.png`` -> ``labels/{stem}_labelTrainIds.png``.
- SYNTHIA-RAND-CITYSCAPES: ``RGB/{stem}.png`` and ``GT/LABELS/{stem}.png`` (16-bit) ->
  ``GT/LABELS/{stem}_labelTrainIds.png``.
- DigitScenes: the Cityscapes layout, generated with train-id labels.
- folder: ``images/{split}/{stem}.png|jpg`` and ``labels/{split}/{stem}.png`` (class indices).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pixl.errors import DataError


@dataclass(frozen=True)
class Layout:
    """Where a split's files are; ``{split}`` in a folder is replaced by the split's name."""

    images: str
    labels: str
    image_suffixes: tuple[str, ...]
    """File-name endings of the images (the stem is the name without it)."""
    raw_label_suffix: str | None
    """Ending of the label files as shipped; None when the labels are generated as train ids."""
    train_label_suffix: str | None
    """Ending of the train-id labels prepare writes; None when the shipped labels are read as is."""
    by_city: bool = False
    """Images and labels sit one folder deeper (Cityscapes' city folders)."""

    def folders(self, root: Path, split: str) -> tuple[Path, Path]:
        """The image and label folders of ``split``."""
        return root / self.images.format(split=split), root / self.labels.format(split=split)

    @property
    def per_split(self) -> bool:
        """Whether each split has its own folders (else the one folder is the whole dataset)."""
        return "{split}" in self.images


@dataclass(frozen=True)
class Record:
    """One image of a split: its stem, image path, raw label path and train-id label path."""

    name: str
    image: Path
    raw_label: Path | None
    label: Path


def check_layout(
    layout: Layout, kind: str, root: str | Path, splits: tuple[str, ...], *, labels: bool = True
) -> None:
    """Raise one ``DataError`` listing every missing folder (label folders only if ``labels``)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset root folder does not exist")
    missing: list[str] = []
    for split in splits:
        image_dir, label_dir = layout.folders(root, split)
        for folder in (image_dir, label_dir) if labels else (image_dir,):
            if not folder.is_dir() and str(folder.relative_to(root)) not in missing:
                missing.append(str(folder.relative_to(root)))
    if missing:
        raise DataError(f"{root}: not a {kind} folder, missing {', '.join(missing)}")


def _label_paths(layout: Layout, label_dir: Path, stem: str) -> tuple[Path | None, Path]:
    raw = label_dir / f"{stem}{layout.raw_label_suffix}" if layout.raw_label_suffix else None
    if layout.train_label_suffix is not None:
        return raw, label_dir / f"{stem}{layout.train_label_suffix}"
    assert raw is not None, "a layout needs raw or train-id labels"
    return raw, raw


def list_records(
    layout: Layout, kind: str, root: str | Path, split: str, *, labels: bool = True
) -> list[Record]:
    """Every image of ``split``, sorted by stem, with its label paths (which may not exist)."""
    root = Path(root)
    check_layout(layout, kind, root, (split,), labels=labels)
    image_dir, label_dir = layout.folders(root, split)
    prefix = "*/" if layout.by_city else ""
    records = []
    for suffix in layout.image_suffixes:
        for image in image_dir.glob(f"{prefix}*{suffix}"):
            stem = image.name[: -len(suffix)]
            folder = label_dir / image.parent.name if layout.by_city else label_dir
            records.append(Record(stem, image, *_label_paths(layout, folder, stem)))
    records.sort(key=lambda r: r.image)
    if not records:
        patterns = " or ".join(f"{prefix}*{s}" for s in layout.image_suffixes)
        raise DataError(f"{image_dir}: empty, no images matching {patterns}")
    return records


def orphan_labels(layout: Layout, kind: str, root: str | Path, split: str) -> list[Path]:
    """Raw label files with no image (reported by prepare)."""
    if layout.raw_label_suffix is None:
        return []
    root = Path(root)
    label_dir = layout.folders(root, split)[1]
    known = {r.raw_label for r in list_records(layout, kind, root, split)}
    prefix = "*/" if layout.by_city else ""
    train_suffix = layout.train_label_suffix
    return [
        p
        for p in sorted(label_dir.glob(f"{prefix}*{layout.raw_label_suffix}"))
        if p not in known and not (train_suffix and p.name.endswith(train_suffix))
    ]
