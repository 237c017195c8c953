"""TexScapes: street-like scenes of real textures, a synthetic-to-photo shift in the paper's regime.

Each class is recognisable from local appearance: a texture or photo that scikit-image ships
inside its package (nothing is downloaded), or a procedural one (sky, water). Stuff classes fill
large regions laid out like a street (sky above a horizon, buildings rising from it, a road
narrowing to a vanishing point, vegetation, terrain, water beside it); thing classes are objects
from small (coins) to large (cats, rare) placed on the ground. Frames are 256x256, so a 4x4-pixel
feature cell (the decoders' 1/4 resolution) is almost always one class (the prepare report gives
the share).

Source ``synth`` (a game engine's look): each texture smoothed and posterised to four levels,
saturated class colours, flat lighting, clean edges, the horizon high. Target ``photo``: the full
texture detail, muted colours, a colour cast, a lighting ramp, gamma, blur and sensor noise, a
layout with the horizon anywhere and more, smaller people. Source and target crop disjoint halves
of every texture (faces: disjoint people), as DigitScenes uses disjoint digit samples.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import numpy as np

from pixl.data import synthetic
from pixl.data.report import PrepareReport
from pixl.data.synthetic import SceneSpec

TEXSCAPES_CLASSES: tuple[str, ...] = (
    "sky",
    "road",
    "building",
    "vegetation",
    "terrain",
    "water",
    "person",
    "sign",
    "coin",
    "cat",
    "vehicle",
)
TEXSCAPES_THINGS: tuple[int, ...] = (6, 7, 8, 9, 10)
TEXSCAPES_PALETTE: tuple[tuple[int, int, int], ...] = (
    (70, 130, 180),
    (128, 64, 128),
    (70, 70, 70),
    (107, 142, 35),
    (152, 251, 152),
    (0, 80, 160),
    (220, 20, 60),
    (220, 220, 0),
    (255, 160, 0),
    (255, 0, 255),
    (0, 0, 142),
)
SKY, ROAD, BUILDING, VEGETATION, TERRAIN, WATER, PERSON, SIGN, COIN, CAT, VEHICLE = range(11)
DEFAULT_SIZES: dict[str, int] = {"source_train": 800, "target_train": 800, "target_val": 200}
IMAGE_SIZE = 256
GENERATOR_VERSION = 1
# The texture each textured class is cut from (scikit-image files inside its package) and the
# colour its grey levels are painted in.
_GREY_SOURCES = {
    ROAD: "gravel",
    BUILDING: "brick",
    VEGETATION: "grass",
    TERRAIN: "moon",
    SIGN: "text",
    COIN: "coins",
}
_COLOR_SOURCES = {CAT: "chelsea", VEHICLE: "motorcycle"}
_TINT = {
    ROAD: (120, 118, 125),
    BUILDING: (170, 90, 60),
    VEGETATION: (70, 150, 50),
    TERRAIN: (190, 160, 110),
    WATER: (40, 110, 170),
    PERSON: (225, 170, 140),
    SIGN: (235, 230, 200),
    COIN: (200, 180, 120),
}


@functools.lru_cache(maxsize=1)
def _textures() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per class, the (source, target) halves of its texture in [0, 1]: left and right halves of
    each image; faces: the first and second hundred people of ``lfw_subset``."""
    import skimage.data

    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for cls, name in _GREY_SOURCES.items():
        image = getattr(skimage.data, name)().astype(np.float32) / 255.0
        half = image.shape[1] // 2
        out[cls] = (image[:, :half], image[:, half:])
    for cls, name in _COLOR_SOURCES.items():
        image = (
            skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else skimage.data.chelsea()
        )
        image = image.astype(np.float32) / 255.0
        half = image.shape[1] // 2
        out[cls] = (image[:, :half], image[:, half:])
    faces = skimage.data.lfw_subset().astype(np.float32)  # [200, 25, 25] in [0, 1]
    out[PERSON] = (faces[:100], faces[100:])
    return out


def _preload() -> None:
    _textures()


def _window(rng: np.random.Generator, texture: np.ndarray, height: int, width: int) -> np.ndarray:
    """A random window of ``texture`` (random zoom, flip) resized to ``height`` x ``width``."""
    rows, cols = texture.shape[:2]
    aspect = width / height
    side = rng.uniform(0.35, 1.0) * min(rows, cols / aspect)
    h, w = max(4, int(side)), max(4, int(side * aspect))
    top, left = int(rng.integers(0, rows - h + 1)), int(rng.integers(0, cols - w + 1))
    crop = texture[top : top + h, left : left + w]
    crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def _posterise(values: np.ndarray, levels: int = 4) -> np.ndarray:
    """The synthetic look: smoothed, then ``levels`` flat steps (per channel)."""
    smooth = cv2.GaussianBlur(values, (0, 0), 1.5)
    low, high = float(smooth.min()), float(smooth.max())
    scaled = (smooth - low) / max(high - low, 1e-6)
    return np.round(scaled * (levels - 1)) / (levels - 1)


def _paint(grey: np.ndarray, tint: tuple[int, int, int], domain: str) -> np.ndarray:
    """Grey levels painted in a class colour: saturated and posterised (synth), muted (photo).

    Shape: grey [h, w] -> RGB [h, w, 3] in [0, 255].
    """
    color = np.asarray(tint, dtype=np.float32)
    if domain == "synth":
        grey = _posterise(grey)
        color = np.clip(color.mean() + 1.4 * (color - color.mean()), 0, 255)
        return color * (0.55 + 0.6 * grey[:, :, None])
    color = 0.6 * color + 0.4 * color.mean()
    grey = (grey - grey.mean()) / max(float(grey.std()), 1e-3)
    return color * np.clip(1.0 + 0.25 * grey[:, :, None], 0.2, 2.0)


def _photo_region(rng: np.random.Generator, texture: np.ndarray, h: int, w: int, domain: str):
    """A colour photo window: posterised and saturated (synth) or as it is (photo). RGB [0, 255]."""
    crop = _window(rng, texture, h, w)
    if domain == "photo":
        return crop * 255.0
    flat = np.stack([_posterise(crop[:, :, c]) for c in range(3)], axis=2)
    return np.clip(crop.mean() + 1.5 * (flat - flat.mean()), 0, 1) * 255.0


def _sky(rng: np.random.Generator, size: int, domain: str) -> np.ndarray:
    top = np.array([40, 90, 200], np.float32) + rng.uniform(-20, 20, 3)
    low = np.array([170, 200, 240], np.float32) + rng.uniform(-20, 15, 3)
    ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    sky = np.broadcast_to(top * (1 - ramp) + low * ramp, (size, size, 3)).copy()
    if domain == "photo":  # clouds: smooth noise, whitened
        noise = cv2.resize(rng.random((6, 6)).astype(np.float32), (size, size), cv2.INTER_CUBIC)
        cloud = np.clip((noise - 0.45) * 2.5, 0, 1)[:, :, None]
        sky = sky * (1 - 0.8 * cloud) + 235.0 * 0.8 * cloud
    return sky


def _water(rng: np.random.Generator, size: int, domain: str) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    grey = np.zeros((size, size), np.float32)
    for _ in range(3):
        angle, freq = rng.uniform(0, math.pi), rng.uniform(0.08, 0.35)
        phase = rng.uniform(0, 2 * math.pi)
        grey += np.sin(freq * (xs * math.cos(angle) + 3 * ys * math.sin(angle)) + phase)
    grey = (grey / 6 + 0.5).astype(np.float32)
    if domain == "photo":
        grey += 0.15 * rng.standard_normal((size, size)).astype(np.float32)
    return _paint(grey, _TINT[WATER], domain)


def _stuff(cls: int, rng: np.random.Generator, size: int, domain: str) -> np.ndarray:
    """A full-frame picture of stuff class ``cls``. Shape: RGB [size, size, 3]."""
    if cls == SKY:
        return _sky(rng, size, domain)
    if cls == WATER:
        return _water(rng, size, domain)
    texture = _textures()[cls][domain == "photo"]
    return _paint(_window(rng, texture, size, size), _TINT[cls], domain)


def _layout(rng: np.random.Generator, size: int, domain: str) -> np.ndarray:
    """The stuff label map: sky, buildings, road to a vanishing point, ground classes by side."""
    label = np.full((size, size), SKY, np.uint8)
    low, high = (0.3, 0.45) if domain == "synth" else (0.2, 0.55)
    horizon = int(size * rng.uniform(low, high))
    sides = rng.choice([VEGETATION, TERRAIN, WATER], size=2)
    label[horizon:, : size // 2], label[horizon:, size // 2 :] = sides[0], sides[1]
    if rng.random() < 0.5:  # a second ground class in a band below the horizon
        band = int(rng.uniform(0.05, 0.2) * size)
        label[horizon : horizon + band] = rng.choice([VEGETATION, TERRAIN, WATER])
    vanish = int(size * rng.uniform(0.3, 0.7))
    half_bottom = size * rng.uniform(0.25, 0.45)
    ys, xs = np.mgrid[0:size, 0:size]
    depth = np.clip((ys - horizon) / max(size - horizon, 1), 0, 1)
    road = (ys > horizon) & (
        np.abs(xs - vanish - (size / 2 - vanish) * depth) < depth * half_bottom
    )
    label[road] = ROAD
    x = 0
    while x < size:  # buildings rising from the horizon along the street
        width = int(size * rng.uniform(0.12, 0.35))
        if rng.random() < (0.6 if domain == "synth" else 0.45):
            top = int(horizon * rng.uniform(0.05, 0.7))
            bottom = horizon + int(size * rng.uniform(0.0, 0.08))
            block = label[top:bottom, x : x + width]
            block[block != ROAD] = BUILDING
        x += width
    return label


def _ellipse(h: int, w: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return ((ys - (h - 1) / 2) / (h / 2)) ** 2 + ((xs - (w - 1) / 2) / (w / 2)) ** 2 <= 1.0


def _rounded(h: int, w: int) -> np.ndarray:
    mask = np.ones((h, w), bool)
    r = max(2, min(h, w) // 4)
    corner = _ellipse(2 * r, 2 * r)
    mask[:r, :r], mask[:r, -r:] = corner[:r, :r], corner[:r, -r:]
    mask[-r:, :r], mask[-r:, -r:] = corner[-r:, :r], corner[-r:, -r:]
    return mask


def _thing(cls: int, rng: np.random.Generator, h: int, w: int, domain: str):
    """(RGB picture [h, w, 3], mask [h, w]) of one object of thing class ``cls``."""
    textures = _textures()[cls][domain == "photo"]
    if cls == PERSON:
        face = textures[int(rng.integers(len(textures)))]
        grey = cv2.resize(face, (w, h), interpolation=cv2.INTER_CUBIC)
        return _paint(grey, _TINT[PERSON], domain), _ellipse(h, w)
    if cls in (CAT, VEHICLE):
        shape = _ellipse(h, w) if cls == CAT else _rounded(h, w)
        return _photo_region(rng, textures, h, w, domain), shape
    grey = _window(rng, textures, h, w)
    shape = _ellipse(h, w) if cls == COIN else np.ones((h, w), bool)
    return _paint(grey, _TINT[cls], domain), shape


# Per class: (how many per frame as (low, high) inclusive, probability the class appears at all,
# height as a fraction of the frame side (low, high), width / height).
_THINGS = {
    "synth": {
        PERSON: ((1, 3), 0.8, (0.10, 0.22), 0.8),
        SIGN: ((1, 2), 0.7, (0.08, 0.18), 1.6),
        COIN: ((1, 4), 0.7, (0.05, 0.09), 1.0),
        CAT: ((1, 1), 0.2, (0.20, 0.35), 1.4),
        VEHICLE: ((1, 2), 0.6, (0.12, 0.25), 1.7),
    },
    "photo": {
        PERSON: ((1, 5), 0.9, (0.06, 0.16), 0.8),
        SIGN: ((1, 2), 0.6, (0.07, 0.15), 1.6),
        COIN: ((1, 5), 0.6, (0.045, 0.08), 1.0),
        CAT: ((1, 1), 0.15, (0.18, 0.32), 1.4),
        VEHICLE: ((1, 3), 0.6, (0.10, 0.22), 1.7),
    },
}


def _place_things(
    rng: np.random.Generator, canvas: np.ndarray, label: np.ndarray, domain: str
) -> None:
    """Objects standing on the ground (below the horizon), painted over the stuff, larger first."""
    size = label.shape[0]
    ground_rows = np.flatnonzero((label != SKY).any(axis=1) & (label != BUILDING).all(axis=1))
    horizon = int(ground_rows[0]) if len(ground_rows) else size // 2
    objects = []
    for cls, (count, chance, height, aspect) in _THINGS[domain].items():
        if rng.random() >= chance:
            continue
        for _ in range(int(rng.integers(count[0], count[1] + 1))):
            h = max(8, int(size * rng.uniform(*height)))
            objects.append((h, cls, max(8, int(h * aspect * rng.uniform(0.85, 1.15)))))
    for h, cls, w in sorted(objects, key=lambda o: -o[0]):
        bottom = int(rng.integers(min(horizon + h // 2, size - 1), size + 1))
        top, left = max(0, bottom - h), int(rng.integers(0, max(1, size - w + 1)))
        picture, mask = _thing(cls, rng, h, w, domain)
        picture, mask = picture[-(bottom - top) :], mask[-(bottom - top) :]
        region = canvas[top:bottom, left : left + w]
        mask = mask[:, : region.shape[1]]
        region[mask] = picture[:, : region.shape[1]][mask]
        label[top:bottom, left : left + w][mask] = cls


def _photo_effects(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """A camera's look: colour cast, lighting ramp, gamma, blur, sensor noise."""
    size = canvas.shape[0]
    canvas = canvas * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ramp = xs * math.cos(angle) + ys * math.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    canvas = canvas * (rng.uniform(0.65, 0.9) + rng.uniform(0.2, 0.5) * ramp)[:, :, None]
    canvas = 255.0 * (np.clip(canvas, 0, 255) / 255.0) ** rng.uniform(0.8, 1.25)
    canvas = cv2.GaussianBlur(canvas.astype(np.float32), (0, 0), rng.uniform(0.5, 1.1))
    return canvas + rng.normal(0.0, rng.uniform(2.0, 7.0), canvas.shape)


def render_scene(
    domain: str, rng: np.random.Generator, size: int = IMAGE_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """One scene: uint8 RGB image ``[size, size, 3]`` and train ids ``[size, size]``."""
    label = _layout(rng, size, domain)
    canvas = np.zeros((size, size, 3), np.float32)
    for cls in np.unique(label):
        mask = label == cls
        canvas[mask] = _stuff(int(cls), rng, size, domain)[mask]
    _place_things(rng, canvas, label, domain)
    if domain == "photo":
        canvas = _photo_effects(rng, canvas)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), label


TEXSCAPES = SceneSpec(
    kind="texscapes",
    title="TexScapes",
    classes=TEXSCAPES_CLASSES,
    default_sizes=DEFAULT_SIZES,
    image_size=IMAGE_SIZE,
    version=GENERATOR_VERSION,
    render=render_scene,
    description=(
        f"{len(TEXSCAPES_CLASSES)} classes ({', '.join(TEXSCAPES_CLASSES)}). Textures from",
        "scikit-image's packaged images (gravel, brick, grass, moon, text, coins, chelsea,",
        "motorcycle_left, lfw_subset faces; source: left halves / first 100 faces, target: right",
        "halves / last 100); sky and water procedural. Source `synth`: posterised, saturated,",
        "flat lighting. Target `photo`: full texture, muted colours, colour cast, lighting ramp,",
        "gamma, blur, noise. `splits/target_train_1_30.txt`: seeded SSL subset.",
    ),
    preload=_preload,
)


def generate_texscapes(
    root: str | Path,
    *,
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    image_size: int = IMAGE_SIZE,
    workers: int = 1,
    progress: bool = False,
) -> PrepareReport:
    """Write TexScapes under ``root``; identical bytes for one seed; re-runs skip done files."""
    return synthetic.generate_scenes(
        TEXSCAPES,
        root,
        seed=seed,
        sizes=sizes,
        image_size=image_size,
        workers=workers,
        progress=progress,
    )
