"""Every dataset kind, described once: layout, label encoding, classes, splits, prepare step.

``KINDS`` names them; ``get_kind`` returns a ``DatasetKind`` (``pixl.data.descriptor``). The config
schema (through ``pixl.config.kinds``, where each kind is registered on import), ``pixl data
prepare``'s choices, the loaders and the evaluators all read these descriptors. Adding a kind
means adding one descriptor here.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from types import MappingProxyType

from pixl.config.kinds import register_dataset_kind
from pixl.data import synthetic
from pixl.data.descriptor import DatasetKind
from pixl.data.digits import DIGIT_SCENES
from pixl.data.folder import check_folder, read_classes, read_folder_label
from pixl.data.info import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_ID_TO_TRAINID,
    CITYSCAPES_PALETTE,
    CITYSCAPES_THINGS,
    DIGIT_CLASSES,
    DIGIT_PALETTE,
    SYNTHIA_ID_TO_TRAINID,
    SYNTHIA_MIOU13,
    SYNTHIA_MIOU16,
    DatasetInfo,
    lookup_table,
)
from pixl.data.io import read_synthia_label
from pixl.data.layouts import Layout
from pixl.data.prepare import convert_official, default_workers
from pixl.data.report import PrepareOptions, PrepareReport
from pixl.data.synthetic import SceneSpec
from pixl.data.texscapes import TEXSCAPES, TEXSCAPES_PALETTE, TEXSCAPES_THINGS
from pixl.errors import DataError

_CITYSCAPES_LAYOUT = Layout(
    images="leftImg8bit/{split}",
    labels="gtFine/{split}",
    image_suffixes=("_leftImg8bit.png",),
    raw_label_suffix="_gtFine_labelIds.png",
    train_label_suffix="_gtFine_labelTrainIds.png",
    by_city=True,
)
_CITYSCAPES_TABLE = lookup_table(CITYSCAPES_ID_TO_TRAINID, 34)
# The generated benchmarks (pixl.data.synthetic): Cityscapes layout, train-id labels written.
_GENERATED_LAYOUT = Layout(
    images="leftImg8bit/{split}",
    labels="gtFine/{split}",
    image_suffixes=("_leftImg8bit.png",),
    raw_label_suffix=None,
    train_label_suffix="_gtFine_labelTrainIds.png",
    by_city=True,
)


def _cityscapes_classes(kind: str, **extra: object) -> DatasetInfo:
    return DatasetInfo(
        kind,
        19,
        CITYSCAPES_CLASSES,
        CITYSCAPES_PALETTE,
        CITYSCAPES_THINGS,
        **extra,  # type: ignore[arg-type]
    )


def _generated_kind(
    spec: SceneSpec,
    palette: tuple[tuple[int, int, int], ...],
    thing_classes: tuple[int, ...],
    *,
    rcs_min_pixels: int,
) -> DatasetKind:
    """The descriptor of a benchmark that ``pixl.data.synthetic`` generates from ``spec``."""
    return DatasetKind(
        name=spec.kind,
        summary=f"{spec.title}: generated into ROOT (Cityscapes layout, train-id labels)",
        layout=_GENERATED_LAYOUT,
        splits=synthetic.SPLITS,
        prepare_splits=None,
        prepare_step=functools.partial(synthetic.prepare_generated, spec),
        classes=DatasetInfo(
            spec.kind,
            len(spec.classes),
            spec.classes,
            palette,
            thing_classes,
            rcs_min_pixels=rcs_min_pixels,
        ),
        prepared_check=functools.partial(synthetic.is_complete, spec),
    )


_DESCRIPTORS: tuple[DatasetKind, ...] = (
    DatasetKind(
        name="cityscapes",
        summary="Cityscapes (leftImg8bit/, gtFine/): converts labelIds to train ids",
        layout=_CITYSCAPES_LAYOUT,
        splits=("train", "val", "test"),
        prepare_splits=("train", "val"),  # test labels are all void
        prepare_step=convert_official,
        classes=_cityscapes_classes("cityscapes"),
        label_table=_CITYSCAPES_TABLE,
    ),
    DatasetKind(
        name="gta5",
        summary="GTA5 (images/, labels/ in Cityscapes label ids): converts to train ids",
        layout=Layout("images", "labels", (".png",), ".png", "_labelTrainIds.png"),
        splits=("train",),
        prepare_splits=("train",),
        prepare_step=convert_official,
        classes=_cityscapes_classes("gta5"),
        label_table=_CITYSCAPES_TABLE,
    ),
    DatasetKind(
        name="synthia",
        summary="SYNTHIA-RAND-CITYSCAPES (RGB/, GT/LABELS/ 16-bit): converts to train ids",
        layout=Layout("RGB", "GT/LABELS", (".png",), ".png", "_labelTrainIds.png"),
        splits=("train",),
        prepare_splits=("train",),
        prepare_step=convert_official,
        classes=_cityscapes_classes(
            "synthia", eval_subsets={"mIoU16": SYNTHIA_MIOU16, "mIoU13": SYNTHIA_MIOU13}
        ),
        label_table=lookup_table(SYNTHIA_ID_TO_TRAINID, 23),
        read_raw_label=read_synthia_label,
    ),
    _generated_kind(
        DIGIT_SCENES, DIGIT_PALETTE, tuple(range(1, len(DIGIT_CLASSES))), rcs_min_pixels=150
    ),
    _generated_kind(TEXSCAPES, TEXSCAPES_PALETTE, TEXSCAPES_THINGS, rcs_min_pixels=200),
    DatasetKind(
        name="folder",
        summary="your own data: images/NAME/, labels/NAME/ (8-bit class ids), classes.yaml",
        layout=Layout(
            images="images/{split}",
            labels="labels/{split}",
            image_suffixes=(".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"),
            raw_label_suffix=".png",
            train_label_suffix=None,  # the user's labels are read as they are
        ),
        splits=None,  # the folders under images/
        prepare_splits=None,
        prepare_step=check_folder,
        read_classes=read_classes,
        read_label=read_folder_label,
    ),
)

KIND_REGISTRY: MappingProxyType[str, DatasetKind] = MappingProxyType(
    {kind.name: kind for kind in _DESCRIPTORS}
)
KINDS: tuple[str, ...] = tuple(KIND_REGISTRY)
SPLITS: dict[str, tuple[str, ...]] = {
    kind.name: kind.splits for kind in _DESCRIPTORS if kind.splits is not None
}
for _kind in _DESCRIPTORS:
    register_dataset_kind(_kind.name, _kind.summary)


def get_kind(name: str) -> DatasetKind:
    """The descriptor of kind ``name``; an unknown name raises ``DataError`` listing the kinds."""
    try:
        return KIND_REGISTRY[name]
    except KeyError:
        raise DataError(
            f"dataset kind {name!r} is unknown; expected one of {', '.join(KINDS)}"
        ) from None


def dataset_info(kind: str, root: str | Path | None = None) -> DatasetInfo:
    """Class names, palette, thing classes and eval subsets of ``kind``.

    ``root``: the dataset folder, needed by kinds that read their classes from it (``folder``).
    """
    return get_kind(kind).info(root)


def prepare_dataset(
    kind: str,
    root: str | Path,
    *,
    workers: int | None = None,
    seed: int = 0,
    progress: bool = False,
    strict: bool = False,
) -> PrepareReport:
    """Check, convert and count ``kind`` at ``root`` (DigitScenes is generated instead).

    Raises ``DataError`` for a missing root or folder (listing all missing folders) or an empty
    split; problems with single files are collected in the report and the run goes on.
    ``strict``: label ids outside the table, label sizes that differ from the image's and images
    without a label are problems too (by default: ignore, resized, left out; see the warnings).
    """
    start = time.perf_counter()
    descriptor = get_kind(kind)
    workers = default_workers() if workers is None else max(1, int(workers))
    report = descriptor.prepare(Path(root), PrepareOptions(workers, seed, progress, strict))
    report.seconds = time.perf_counter() - start
    return report


def is_prepared(kind: str, root: str | Path) -> bool:
    """Cheap check: the class statistics of every prepared split exist (written last)."""
    return get_kind(kind).is_prepared(root)
