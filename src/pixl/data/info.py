"""Class tables of the built-in datasets (names, palettes, label-id -> train-id maps) and the
``DatasetInfo`` every kind describes its classes with (``pixl.data.kinds`` puts them together).

Cityscapes (and GTA5, which uses Cityscapes label ids) come from ``cityscapesscripts``' own table;
SYNTHIA-RAND-CITYSCAPES ids are mapped with the table of its README (as DAFormer/HRDA do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from cityscapesscripts.helpers.labels import labels as _CITYSCAPES_LABELS

from pixl.core import IGNORE_INDEX

_TRAIN_LABELS = sorted(
    (lab for lab in _CITYSCAPES_LABELS if 0 <= lab.trainId < IGNORE_INDEX), key=lambda x: x.trainId
)
CITYSCAPES_CLASSES: tuple[str, ...] = tuple(lab.name for lab in _TRAIN_LABELS)
CITYSCAPES_PALETTE: tuple[tuple[int, int, int], ...] = tuple(
    tuple(int(v) for v in lab.color) for lab in _TRAIN_LABELS
)
# Train ids of "thing" classes (traffic light, sign, person .. bicycle), docs/design.md, "The baseline PiXL builds on".
CITYSCAPES_THINGS: tuple[int, ...] = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)

# Cityscapes label id (0..33) -> train id; ids with trainId 255/-1 are void.
CITYSCAPES_ID_TO_TRAINID: MappingProxyType[int, int] = MappingProxyType(
    {
        lab.id: (lab.trainId if 0 <= lab.trainId < IGNORE_INDEX else IGNORE_INDEX)
        for lab in _CITYSCAPES_LABELS
        if lab.id >= 0
    }
)

# SYNTHIA-RAND-CITYSCAPES class id (0..22, README.txt) -> Cityscapes train id. Terrain (9),
# truck (14) and train (16) never occur in SYNTHIA; void, parking-slot, road-work and
# lane-marking (0, 13, 14, 22) are void.
SYNTHIA_ID_TO_TRAINID: MappingProxyType[int, int] = MappingProxyType(
    {
        **{i: IGNORE_INDEX for i in range(23)},
        3: 0,  # road
        4: 1,  # sidewalk
        2: 2,  # building
        21: 3,  # wall
        5: 4,  # fence
        7: 5,  # pole
        15: 6,  # traffic light
        9: 7,  # traffic sign
        6: 8,  # vegetation
        16: 9,  # terrain (absent from the data)
        1: 10,  # sky
        10: 11,  # pedestrian -> person
        17: 12,  # rider
        8: 13,  # car
        18: 14,  # truck (absent from the data)
        19: 15,  # bus
        20: 16,  # train (absent from the data)
        12: 17,  # motorcycle
        11: 18,  # bicycle
    }
)
SYNTHIA_MIOU16: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18)
SYNTHIA_MIOU13: tuple[int, ...] = tuple(c for c in SYNTHIA_MIOU16 if c not in (3, 4, 5))

DIGIT_CLASSES: tuple[str, ...] = ("background", *(str(d) for d in range(10)))
DIGIT_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
)


@dataclass(frozen=True)
class DatasetInfo:
    """What a model and an evaluator need to know about a dataset's classes."""

    kind: str
    num_classes: int
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    thing_classes: tuple[int, ...]
    eval_subsets: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Rare class sampling: an image is eligible for class c with >= this many pixels of c.
    rcs_min_pixels: int = 3000
    # The value marking void pixels in the train-id label files (a user's folder may use
    # another than IGNORE_INDEX); reading a label maps it to IGNORE_INDEX.
    file_ignore_index: int = IGNORE_INDEX

    def to_dict(self) -> dict[str, object]:
        """The classes as plain data (what a checkpoint and an export carry: predicting needs
        no dataset folder)."""
        return {
            "kind": self.kind,
            "names": list(self.class_names),
            "palette": [list(colour) for colour in self.palette],
            "ignore_index": self.file_ignore_index,
            "thing_classes": list(self.thing_classes),
            "eval_subsets": {name: list(ids) for name, ids in self.eval_subsets.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetInfo:
        """The inverse of ``to_dict``; a malformed mapping raises ``ValueError``."""
        try:
            names = tuple(str(name) for name in data["names"])
            palette = tuple(tuple(int(v) for v in colour) for colour in data["palette"])
            if len(palette) != len(names) or any(len(colour) != 3 for colour in palette):
                raise ValueError("one [r, g, b] per class expected")
            return cls(
                kind=str(data["kind"]),
                num_classes=len(names),
                class_names=names,
                palette=palette,  # type: ignore[arg-type]
                thing_classes=tuple(int(c) for c in data.get("thing_classes", ())),
                eval_subsets={
                    str(k): tuple(int(c) for c in v)
                    for k, v in dict(data.get("eval_subsets", {})).items()
                },
                file_ignore_index=int(data.get("ignore_index", IGNORE_INDEX)),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a class list ({error!r})") from None

    def label_lut(self) -> np.ndarray:
        """A 256-entry map from label-file values to train ids; -1 marks values outside the
        class list (an error when met)."""
        lut = np.full(256, -1, dtype=np.int16)
        lut[: self.num_classes] = np.arange(self.num_classes)
        lut[self.file_ignore_index] = IGNORE_INDEX
        return lut


def lookup_table(mapping: MappingProxyType[int, int], size: int = 65536) -> np.ndarray:
    """A dense id -> train-id array; ids missing from ``mapping`` hold -1 (not in the table)."""
    table = np.full(size, -1, dtype=np.int32)
    for source_id, train_id in mapping.items():
        table[source_id] = train_id
    return table
