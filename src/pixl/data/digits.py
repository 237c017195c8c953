"""DigitScenes: a small, real domain shift generated deterministically from installed packages.

Handwritten digits from scikit-learn (``load_digits``) are placed, scaled and slightly rotated on
128x128 canvases, 2-5 per scene without overlap. Source "synth": flat or gradient colours, clean
hard edges. Target "photo": backgrounds cut from real photographs shipped with scikit-learn and
scikit-image, digits blended MNIST-M style (the photo inverted under the stroke), then blur and
noise. Source and target use
disjoint digit samples (first and second half of the set). Classes: 0 background, 1..10 the
digits 0..9. Written in the Cityscapes layout (city folder = domain) with train-id labels, so the
same loader reads it; splits ``source_train``, ``target_train`` (labels written for SSL, ignored for
UDA), ``target_val``, plus ``splits/target_train_1_30.txt`` for semi-supervised runs.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import numpy as np

from pixl.data import synthetic
from pixl.data.info import DIGIT_CLASSES
from pixl.data.report import PrepareReport
from pixl.data.synthetic import SceneSpec

DEFAULT_SIZES: dict[str, int] = {"source_train": 1000, "target_train": 1000, "target_val": 200}
PHOTOS: tuple[str, ...] = (
    "sklearn:china",
    "sklearn:flower",
    "skimage:astronaut",
    "skimage:chelsea",
    "skimage:coffee",
    "skimage:rocket",
    "skimage:brick",
    "skimage:grass",
    "skimage:gravel",
)
MANIFEST = "pixl_digits.json"  # the manifest SceneSpec names for kind "digits"
GENERATOR_VERSION = 2  # bump when render_scene changes: old folders are refused, not mixed
DIGITS_PER_SCENE = (2, 5)  # inclusive
DIGIT_SIDE = (0.25, 0.45)  # fraction of the image side
_PLACEMENT_TRIES = 20


@functools.lru_cache(maxsize=1)
def _digit_pools() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Digit images in [0, 1] and classes: source = first half, target = second half."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, targets = digits.images.astype(np.float32) / 16.0, digits.target.astype(np.int64)
    half = len(images) // 2
    return {"synth": (images[:half], targets[:half]), "photo": (images[half:], targets[half:])}


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    """The bundled photographs as float32 RGB in [0, 255]."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    out = []
    for ref in PHOTOS:
        source, name = ref.split(":")
        image = (
            load_sample_image(f"{name}.jpg")
            if source == "sklearn"
            else getattr(skimage.data, name)()
        )
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        out.append(image[:, :, :3].astype(np.float32))
    return tuple(out)


def _digit_alpha(digit: np.ndarray, height: int, angle: float) -> np.ndarray:
    """An 8x8 digit scaled to ``height`` px and rotated by ``angle`` degrees. Shape: [s, s]."""
    alpha = cv2.resize(digit, (height, height), interpolation=cv2.INTER_CUBIC)
    rotation = cv2.getRotationMatrix2D((height / 2, height / 2), angle, 1.0)
    alpha = cv2.warpAffine(alpha, rotation, (height, height), flags=cv2.INTER_LINEAR)
    return np.clip(alpha, 0.0, 1.0)


def _random_color(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3).astype(np.float32)


def _synth_background(rng: np.random.Generator, size: int) -> np.ndarray:
    first, second = _random_color(rng), _random_color(rng)
    if rng.random() < 0.5:
        return np.broadcast_to(first, (size, size, 3)).copy()
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    ramp = (xs * math.cos(angle) + ys * math.sin(angle))[:, :, None]
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    return first * (1 - ramp) + second * ramp


def _photo_crop(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random square window of a random photo (random zoom and flip), resized to ``size``."""
    photos = _photos()
    photo = photos[int(rng.integers(len(photos)))]
    shortest = min(photo.shape[:2])
    window = int(rng.integers(min(size, shortest), shortest + 1))
    top = int(rng.integers(0, photo.shape[0] - window + 1))
    left = int(rng.integers(0, photo.shape[1] - window + 1))
    crop = photo[top : top + window, left : left + window]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return crop[:, ::-1].copy() if rng.random() < 0.5 else crop


def _free_box(
    rng: np.random.Generator, size: int, side: int, boxes: list[tuple[int, int, int]]
) -> tuple[int, int] | None:
    """A random top-left corner whose ``side`` square overlaps none of ``boxes``, or None."""
    for _ in range(_PLACEMENT_TRIES):
        top, left = int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))
        if all(
            top + side <= t or t + s <= top or left + side <= x or x + s <= left
            for t, x, s in boxes
        ):
            return top, left
    return None


def _preload() -> None:
    _photos(), _digit_pools()


def render_scene(
    domain: str, rng: np.random.Generator, size: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """One scene: uint8 RGB image ``[size, size, 3]`` and train ids ``[size, size]``.

    2-5 digits, each 25-45 % of the image side, in boxes that do not overlap: an occluded digit
    is a different shape, and overlapping labels would ask the model for the impossible.
    """
    images, targets = _digit_pools()[domain]
    canvas = _synth_background(rng, size) if domain == "synth" else _photo_crop(rng, size)
    label = np.zeros((size, size), dtype=np.uint8)
    boxes: list[tuple[int, int, int]] = []
    for _ in range(int(rng.integers(DIGITS_PER_SCENE[0], DIGITS_PER_SCENE[1] + 1))):
        pick = int(rng.integers(len(images)))
        side = round(size * rng.uniform(*DIGIT_SIDE))
        corner = _free_box(rng, size, side, boxes)
        if corner is None:  # the canvas is full
            continue
        top, left = corner
        boxes.append((top, left, side))
        alpha = _digit_alpha(images[pick], side, rng.uniform(-15, 15))
        region = canvas[top : top + side, left : left + side]
        stroke = alpha > 0.5
        if domain == "synth":  # flat colour, hard edge, kept apart from the background
            color = _random_color(rng)
            if np.abs(color - region.mean(axis=(0, 1))).mean() < 60:
                color = 255.0 - region.mean(axis=(0, 1))
            region[stroke] = color
        else:  # MNIST-M: photo inverted under the (soft) stroke
            a = alpha[:, :, None]
            region[:] = np.abs(region - a * 255.0)
        label[top : top + side, left : left + side][stroke] = targets[pick] + 1
    if domain == "photo":
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 1.2))
        canvas = canvas + rng.normal(0.0, rng.uniform(3.0, 10.0), canvas.shape)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), label


DIGIT_SCENES = SceneSpec(
    kind="digits",
    title="DigitScenes",
    classes=DIGIT_CLASSES,
    default_sizes=DEFAULT_SIZES,
    image_size=128,
    version=GENERATOR_VERSION,
    render=render_scene,
    description=(
        "11 classes (background, digits 0-9). Digits: scikit-learn `load_digits` (source: first",
        "half of the samples, target: second half). Photographs: " + ", ".join(PHOTOS) + ".",
        "Source `synth`: flat/gradient colours, hard edges. Target `photo`: photo backgrounds,",
        "MNIST-M-style digits, blur and noise. `splits/target_train_1_30.txt`: seeded SSL subset.",
    ),
    preload=_preload,
    card_purity=False,  # the card's bytes predate the purity figure (printed by prepare)
)


def is_current(root: str | Path) -> bool:
    """Whether ``root`` was written by this generator version (older scenes differ)."""
    return synthetic.is_current(DIGIT_SCENES, root)


def generate_digit_scenes(
    root: str | Path,
    *,
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    image_size: int = 128,
    workers: int = 1,
    progress: bool = False,
) -> PrepareReport:
    """Write DigitScenes under ``root``; identical bytes for one seed; re-runs skip done files."""
    return synthetic.generate_scenes(
        DIGIT_SCENES,
        root,
        seed=seed,
        sizes=sizes,
        image_size=image_size,
        workers=workers,
        progress=progress,
    )
