"""The official folder layouts: where each image, raw label and converted label lives.

- Cityscapes: ``leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png`` and
  ``gtFine/{split}/{city}/{stem}_gtFine_labelIds.png`` -> ``..._gtFine_labelTrainIds.png``.
- GTA5: ``images/{stem}.png`` and ``labels/{stem}.png`` -> ``labels/{stem}_labelTrainIds.png``.
- SYNTHIA-RAND-CITYSCAPES: ``RGB/{stem}.png`` and ``GT/LABELS/{stem}.png`` (16-bit) ->
  ``GT/LABELS/{stem}_labelTrainIds.png``.
- DigitScenes: the Cityscapes layout with splits source_train, target_train, target_val.
GTA5 and SYNTHIA have a single split, ``train`` (every image).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pixl.data.info import dataset_info
from pixl.errors import DataError

SPLITS: dict[str, tuple[str, ...]] = {
    "cityscapes": ("train", "val", "test"),
    "gta5": ("train",),
    "synthia": ("train",),
    "digits": ("source_train", "target_train", "target_val"),
}
# Splits whose labels `pixl data prepare` converts (Cityscapes test labels are all void).
PREPARE_SPLITS: dict[str, tuple[str, ...]] = {
    "cityscapes": ("train", "val"),
    "gta5": ("train",),
    "synthia": ("train",),
    "digits": ("source_train", "target_train", "target_val"),
}
TRAIN_IDS_SUFFIX = "_labelTrainIds.png"


@dataclass(frozen=True)
class Record:
    """One image of a split: its stem, image path, raw label path and converted label path."""

    name: str
    image: Path
    raw_label: Path | None
    label: Path


def _folders(kind: str, root: Path, split: str) -> tuple[Path, Path]:
    if kind in ("cityscapes", "digits"):
        return root / "leftImg8bit" / split, root / "gtFine" / split
    if kind == "gta5":
        return root / "images", root / "labels"
    return root / "RGB", root / "GT" / "LABELS"


def check_split(kind: str, split: str) -> None:
    dataset_info(kind)  # unknown kind -> DataError
    if split not in SPLITS[kind]:
        raise DataError(f"{kind} has no split {split!r}; expected one of {', '.join(SPLITS[kind])}")


def check_layout(kind: str, root: str | Path, splits: tuple[str, ...]) -> None:
    """Raise one ``DataError`` listing every missing folder of the official layout."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset root folder does not exist")
    missing: list[str] = []
    for split in splits:
        check_split(kind, split)
        for folder in _folders(kind, root, split):
            if not folder.is_dir() and str(folder.relative_to(root)) not in missing:
                missing.append(str(folder.relative_to(root)))
    if missing:
        raise DataError(f"{root}: not a {kind} folder, missing {', '.join(missing)}")


def list_records(kind: str, root: str | Path, split: str) -> list[Record]:
    """Every image of ``split``, sorted by stem, with its label paths (which may not exist)."""
    root = Path(root)
    check_layout(kind, root, (split,))
    image_dir, label_dir = _folders(kind, root, split)
    records = []
    if kind in ("cityscapes", "digits"):
        for image in sorted(image_dir.glob("*/*_leftImg8bit.png")):
            stem = image.name[: -len("_leftImg8bit.png")]
            city_dir = label_dir / image.parent.name
            raw = city_dir / f"{stem}_gtFine_labelIds.png"
            label = city_dir / f"{stem}_gtFine{TRAIN_IDS_SUFFIX}"
            records.append(Record(stem, image, raw, label))
    else:
        for image in sorted(image_dir.glob("*.png")):
            stem = image.stem
            raw = label_dir / image.name
            records.append(Record(stem, image, raw, label_dir / f"{stem}{TRAIN_IDS_SUFFIX}"))
    if not records:
        pattern = "*/*_leftImg8bit.png" if kind in ("cityscapes", "digits") else "*.png"
        raise DataError(f"{image_dir}: empty, no images matching {pattern}")
    return records


def orphan_labels(kind: str, root: str | Path, split: str) -> list[Path]:
    """Raw label files with no image (reported by prepare, not fatal)."""
    if kind == "digits":
        return []
    root = Path(root)
    label_dir = _folders(kind, root, split)[1]
    known = {r.raw_label for r in list_records(kind, root, split)}
    pattern = "*/*_gtFine_labelIds.png" if kind == "cityscapes" else "*.png"
    return [
        p
        for p in sorted(label_dir.glob(pattern))
        if p not in known and not p.name.endswith(TRAIN_IDS_SUFFIX)
    ]
