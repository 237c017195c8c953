"""Tiny fake datasets in the official layouts (real file names and encodings)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pixl.data.info import CITYSCAPES_PALETTE
from pixl.data.kinds import get_kind
from pixl.data.layouts import Record

SIZE = (32, 64)  # (height, width)
CITYSCAPES_IDS = np.arange(0, 34)
SYNTHIA_IDS = np.arange(0, 23)


def blocky_ids(rng: np.random.Generator, ids: np.ndarray, size=SIZE, block: int = 8) -> np.ndarray:
    """Random class ids in blocks (regions, like real labels). Shape: [H, W]."""
    h, w = size
    small = rng.choice(ids, size=(h // block, w // block))
    return np.kron(small, np.ones((block, block), dtype=small.dtype))


def write_rgb(path: Path, rng: np.random.Generator, size=SIZE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rng.integers(0, 256, (*size, 3), dtype=np.uint8))


def make_cityscapes(root: Path, counts=None, seed: int = 0) -> dict[str, np.ndarray]:
    """``leftImg8bit``/``gtFine`` with ``*_gtFine_labelIds.png``; returns raw labels by stem."""
    rng = np.random.default_rng(seed)
    raws = {}
    for split, count in (counts or {"train": 4, "val": 2}).items():
        for _ in range(count):
            i = len(raws)
            city = ("aachen", "bochum")[i % 2]
            stem = f"{city}_{i:06d}_000019"
            write_rgb(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", rng)
            raw = blocky_ids(rng, CITYSCAPES_IDS).astype(np.uint8)
            label_path = root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"
            label_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(label_path), raw)
            raws[stem] = raw
    return raws


def make_gta5(root: Path, count: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """``images/00001.png`` and palette-mode ``labels/00001.png`` (pixel value = label id)."""
    rng = np.random.default_rng(seed)
    palette = [v for color in CITYSCAPES_PALETTE for v in color]
    raws = {}
    for i in range(1, count + 1):
        stem = f"{i:05d}"
        write_rgb(root / "images" / f"{stem}.png", rng)
        raw = blocky_ids(rng, CITYSCAPES_IDS).astype(np.uint8)
        image = Image.fromarray(raw, mode="P")
        image.putpalette(palette + [0] * (768 - len(palette)))
        (root / "labels").mkdir(parents=True, exist_ok=True)
        image.save(root / "labels" / f"{stem}.png")
        raws[stem] = raw
    return raws


def make_synthia(root: Path, count: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """``RGB/0000000.png`` and 16-bit ``GT/LABELS/0000000.png`` (class id in the red channel)."""
    rng = np.random.default_rng(seed)
    raws = {}
    for i in range(count):
        stem = f"{i:07d}"
        write_rgb(root / "RGB" / f"{stem}.png", rng)
        raw = blocky_ids(rng, SYNTHIA_IDS).astype(np.uint16)
        bgr = np.zeros((*SIZE, 3), dtype=np.uint16)
        bgr[:, :, 2] = raw  # red = class id
        bgr[:, :, 1] = rng.integers(0, 3000, SIZE)  # green = instance id
        (root / "GT" / "LABELS").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "GT" / "LABELS" / f"{stem}.png"), bgr)
        raws[stem] = raw
    return raws


MAKERS = {"gta5": make_gta5, "synthia": make_synthia, "cityscapes": make_cityscapes}
OUTSIDE = {"gta5": 200, "synthia": 40, "cityscapes": 200}  # ids no table entry has


def write_raw(kind: str, path: Path, ids: np.ndarray) -> None:
    """A raw label in the kind's own encoding."""
    if kind == "gta5":  # palette PNG, pixel value = Cityscapes id
        image = Image.fromarray(ids.astype(np.uint8), mode="P")
        palette = [v for color in CITYSCAPES_PALETTE for v in color]
        image.putpalette(palette + [0] * (768 - len(palette)))
        image.save(path)
    elif kind == "synthia":  # 16-bit, class id in the red channel
        bgr = np.zeros((*ids.shape, 3), dtype=np.uint16)
        bgr[:, :, 2] = ids
        cv2.imwrite(str(path), bgr)
    else:
        cv2.imwrite(str(path), ids.astype(np.uint8))


def defective_release(kind: str, root: Path) -> tuple[list[Record], np.ndarray, np.ndarray]:
    """The kind's fake with: record 0 some ids outside the table, record 1 a half-size label,
    record 2 no label, and a label with no image. Returns the train records and both raw labels."""
    MAKERS[kind](root)
    split = get_kind(kind).splits_to_prepare(root)[0]
    records = get_kind(kind).records(root, split)
    first = np.zeros(SIZE, dtype=np.int64) + 7  # 7: road in both tables
    first[:8] = OUTSIDE[kind]
    write_raw(kind, records[0].raw_label, first)
    small = np.kron(np.array([[7, 8], [11, 7]]), np.ones((SIZE[0] // 4, SIZE[1] // 4), int))
    write_raw(kind, records[1].raw_label, small)  # half of the image's height and width
    records[2].raw_label.unlink()
    orphan = records[3].raw_label.with_name("zz_orphan" + records[3].raw_label.name)
    shutil.copy(records[3].raw_label, orphan)
    return records, first, small
