"""A user's own folder dataset, made on the fly: a few tiny images, masks and classes.yaml."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from PIL import Image

NAMES = ["background", "square", "bar"]
PALETTE = [[0, 0, 0], [220, 40, 40], [40, 90, 220]]
# Overrides that make a shipped folder config train in seconds (2 steps of a tiny DeepLabV3+).
TINY = [
    "model.options={encoder: resnet18, encoder_weights: null, embed_dim: 16}",
    "trainer.max_steps=2",
    "trainer.batch_size=2",
    "trainer.unlabelled_batch_size=2",
    "trainer.accelerator=cpu",
    "trainer.num_workers=0",
    "trainer.log_every=1",
    "trainer.eval_every=0",
    "trainer.checkpoint_every=0",
    "trainer.progress_bar=false",
    "optim.warmup_steps=1",
]
COLOURS = np.array([[90, 160, 90], [230, 230, 40], [40, 40, 230]], dtype=np.uint8)


def scene(rng: np.random.Generator, size: int, ignore: int) -> tuple[np.ndarray, np.ndarray]:
    """An image and its mask: background, a square (class 1), a bar (class 2), a void strip.

    Shape: -> [size, size, 3] uint8, [size, size] uint8.
    """
    label = np.zeros((size, size), dtype=np.uint8)
    side = size // 3
    top, left = (int(v) for v in rng.integers(0, size // 2 - side // 2, size=2))
    label[top : top + side, left : left + side] = 1
    column = int(rng.integers(size // 2 + 2, size - 4))
    label[:, column : column + 3] = 2
    label[-1, :] = ignore  # a void row, as annotators leave at borders
    image = COLOURS[np.minimum(label, 2)].astype(np.int16)
    image += rng.integers(-20, 21, size=image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8), label


def make_folder(
    root: Path,
    splits: dict[str, int] | None = None,
    *,
    size: int = 32,
    ignore_index: int = 255,
    labelled: bool = True,
    seed: int = 0,
    classes: dict | None = None,
) -> Path:
    """``root/images/SPLIT``, ``root/labels/SPLIT`` (one JPEG image, palette-mode masks for odd
    stems) and ``root/classes.yaml`` with three classes and ``ignore_index``."""
    rng = np.random.default_rng(seed)
    for split, count in (splits or {"train": 6, "val": 2}).items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        if labelled:
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image, label = scene(rng, size, ignore_index)
            suffix = ".jpg" if i == 0 else ".png"
            Image.fromarray(image).save(root / "images" / split / f"{split}_{i:02d}{suffix}")
            if not labelled:
                continue
            mask = Image.fromarray(label)
            if i % 2:  # a palette PNG holds the same indices
                mask = Image.frombytes("P", (size, size), label.tobytes())
                mask.putpalette([v for c in PALETTE for v in c] + [255] * 3 * 253)
            mask.save(root / "labels" / split / f"{split}_{i:02d}.png")
    if classes is None:
        classes = {"names": NAMES, "palette": PALETTE, "thing_classes": ["square"]}
        if ignore_index != 255:
            classes["ignore_index"] = ignore_index
    (root / "classes.yaml").write_text(yaml.safe_dump(classes))
    return root
