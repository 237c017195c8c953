"""Tiny fake datasets in the official layouts (real file names and encodings)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pixl.data.info import CITYSCAPES_PALETTE

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
