"""The ``folder`` kind: a user's own images and masks.

``ROOT/images/NAME/<stem>.png|jpg`` and ``ROOT/labels/NAME/<stem>.png`` (8-bit gray or palette
PNGs whose values are class indices), plus ``ROOT/classes.yaml``::

    names: [background, road, car]      # class i is names[i]
    palette: [[0, 0, 0], [128, 64, 128], [0, 0, 142]]   # optional, one [r, g, b] per class
    ignore_index: 255                   # optional: the label value of unlabelled pixels
    thing_classes: [car]                # optional: names or ids (feature distance in UDA)

Labels are read as they are (no converted copy): values ``0..len(names)-1`` are classes and
``ignore_index`` is mapped to the project's IGNORE_INDEX. ``pixl data prepare folder ROOT``
checks every split and writes the class statistics RCS needs.
"""

from __future__ import annotations

import colorsys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from pixl.core import IGNORE_INDEX
from pixl.data.descriptor import DatasetKind
from pixl.data.info import DatasetInfo
from pixl.data.io import image_size
from pixl.data.layouts import Record, check_layout, orphan_labels
from pixl.data.prepare import FileResult, check_size, map_files, record_split
from pixl.data.report import PrepareOptions, PrepareReport
from pixl.data.stats import count_classes
from pixl.errors import DataError, one_line

CLASSES_FILE = "classes.yaml"
_KEYS = ("names", "palette", "ignore_index", "thing_classes")


def default_palette(count: int) -> tuple[tuple[int, int, int], ...]:
    """``count`` distinct colours: hues a golden angle apart, alternating brightness."""
    colours = []
    for i in range(count):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75, 0.95 if i % 2 else 0.7)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return tuple(colours)


def _names(path: Path, value: Any) -> tuple[str, ...]:
    ok = isinstance(value, list) and all(isinstance(n, str) and n.strip() for n in value)
    if not ok or not 2 <= len(value) <= 255 or len(set(value)) != len(value):
        raise DataError(
            f"{path}: names: expected a list of 2 to 255 distinct class names, got {value!r}"
        )
    return tuple(value)


def _palette(path: Path, value: Any, count: int) -> tuple[tuple[int, int, int], ...]:
    if value is None:
        return default_palette(count)

    def is_colour(c: Any) -> bool:
        return (
            isinstance(c, list) and len(c) == 3 and all(type(v) is int and 0 <= v <= 255 for v in c)
        )

    if not isinstance(value, list) or len(value) != count or not all(map(is_colour, value)):
        raise DataError(
            f"{path}: palette: expected one [r, g, b] (integers 0-255) per class "
            f"({count} classes), got {value!r}"
        )
    return tuple(tuple(c) for c in value)  # type: ignore[misc]


def _ignore_index(path: Path, value: Any, count: int) -> int:
    if value is None:
        return IGNORE_INDEX
    if type(value) is not int or not count <= value <= 255:
        raise DataError(
            f"{path}: ignore_index: expected an integer from {count} to 255 (not a class id), "
            f"got {value!r}"
        )
    return value


def _things(path: Path, value: Any, names: tuple[str, ...]) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DataError(f"{path}: thing_classes: expected a list of class names or ids")
    ids = []
    for item in value:
        if isinstance(item, str) and item in names:
            ids.append(names.index(item))
        elif type(item) is int and 0 <= item < len(names):
            ids.append(item)
        else:
            raise DataError(
                f"{path}: thing_classes: {item!r} is not a class (names: {', '.join(names)})"
            )
    return tuple(sorted(set(ids)))


def read_classes(root: Path) -> DatasetInfo:
    """The classes of the folder dataset at ``root`` (from ``classes.yaml``); one-line errors."""
    path = Path(root) / CLASSES_FILE
    if not path.is_file():
        raise DataError(f"{path}: missing; a folder dataset lists its classes there (names: [...])")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid YAML ({one_line(error)})") from None
    if not isinstance(raw, dict) or "names" not in raw:
        raise DataError(f"{path}: expected a mapping with names: [...] (and optional palette, ...)")
    unknown = [k for k in raw if k not in _KEYS]
    if unknown:
        raise DataError(f"{path}: unknown key {unknown[0]!r} (valid: {', '.join(_KEYS)})")
    names = _names(path, raw["names"])
    return DatasetInfo(
        "folder",
        len(names),
        names,
        _palette(path, raw.get("palette"), len(names)),
        _things(path, raw.get("thing_classes"), names),
        file_ignore_index=_ignore_index(path, raw.get("ignore_index"), len(names)),
    )


def read_folder_label(path: str | Path) -> np.ndarray:
    """A label PNG of class indices: 8-bit gray (``L``) or palette (``P``), as uint8 ``[H, W]``."""
    try:
        with Image.open(path) as image:
            if image.format != "PNG" or image.mode not in ("L", "P"):
                raise DataError(
                    f"{path}: expected an 8-bit gray or palette PNG of class ids, "
                    f"got {image.format} mode {image.mode}"
                )
            return np.asarray(image, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as error:
        problem = (
            "file is missing"
            if not Path(path).exists()
            else f"cannot decode label ({one_line(error)})"
        )
        raise DataError(f"{path}: {problem}") from None


def _check_one(record: Record, info: DatasetInfo, labelled: bool) -> FileResult:
    try:
        if not labelled:
            image_size(record.image)
            return FileResult(record.name, None, None, False)
        if not record.label.is_file():
            raise DataError(f"{record.label}: label missing for image {record.image.name}")
        label = read_folder_label(record.label)
        check_size(record, label, record.label)
        mapped = info.label_lut()[label]
        if (mapped < 0).any():
            bad = sorted({int(v) for v in np.unique(label[mapped < 0])})
            raise DataError(
                f"{record.label}: label ids {bad[:8]} are outside the {info.num_classes} classes "
                f"of {CLASSES_FILE} (0-{info.num_classes - 1}, ignore {info.file_ignore_index})"
            )
    except DataError as error:
        return FileResult(record.name, None, str(error), False)
    counts = count_classes(mapped.astype(np.uint8), info.num_classes)
    return FileResult(record.name, counts, None, False)


def _shared_stems(records: list[Record]) -> list[str]:
    by_stem: dict[str, list[str]] = defaultdict(list)
    for record in records:
        by_stem[record.name].append(record.image.name)
    return [
        f"{records[0].image.parent}: {' and '.join(files)} share the stem {stem!r}"
        for stem, files in by_stem.items()
        if len(files) > 1
    ]


def check_folder(kind: DatasetKind, root: Path, options: PrepareOptions) -> PrepareReport:
    """Prepare step of ``folder``: check classes.yaml, pairs, sizes and ids; count classes.

    A split without a ``labels/NAME`` folder is unlabelled: its images are checked, nothing
    is counted. Every problem is one line in the report; statistics only of clean splits.
    """
    info = read_classes(root)
    report = PrepareReport(kind.name, root)
    for split in kind.splits_to_prepare(root):
        check_layout(kind.layout, kind.name, root, (split,), labels=False)
        labelled = kind.layout.folders(root, split)[1].is_dir()
        records = kind.records(root, split, labels=labelled)
        jobs = [(r, info, labelled) for r in records]
        results = map_files(_check_one, jobs, options, f"{kind.name} {split}")
        problems = [r.problem for r in results if r.problem] + _shared_stems(records)
        report.checked += len(records)
        if not labelled:
            report.problems.extend(problems)
            continue
        problems += [
            f"{p}: label has no matching image"
            for p in orphan_labels(kind.layout, kind.name, root, split)
        ]
        record_split(kind, root, split, info.num_classes, results, problems, report)
    report.skipped = 0  # nothing is written, so nothing is "already done"
    return report
