"""Writing predictions: train ids, Cityscapes label ids (official submission format), colours, overlays.

The official evaluator (``cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling``) finds the
prediction of ``<city>_<seq>_<frame>_gtFine_labelIds.png`` by globbing ``<city>_<seq>_<frame>*.png``
anywhere under its results folder; a prediction named after its input image
(``<city>_<seq>_<frame>_leftImg8bit.png``) at the image's full size, holding label ids, matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from cityscapesscripts.helpers.labels import trainId2label

from pixl.core import IGNORE_INDEX
from pixl.data.io import write_png_atomic, write_rgb_atomic
from pixl.errors import PixlError
from pixl.visualization.legend import classes_present, with_legend
from pixl.visualization.overlay import overlay
from pixl.visualization.palette import Palette, colorize

OutputFormat = Literal["trainid", "labelid", "color", "overlay"]
OUTPUT_FORMATS: tuple[str, ...] = ("trainid", "labelid", "color", "overlay")
CITYSCAPES_NUM_CLASSES = 19
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _train_to_label_lut() -> np.ndarray:
    # Train ids 0..18 -> their Cityscapes label id; anything else (ignore) -> 0 ("unlabeled").
    lut = np.zeros(256, dtype=np.uint8)
    for train_id in range(CITYSCAPES_NUM_CLASSES):
        lut[train_id] = trainId2label[train_id].id
    return lut


TRAIN_TO_LABEL_ID: np.ndarray = _train_to_label_lut()


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Cityscapes train ids -> label ids (``cityscapesscripts``' table); ignore -> 0 (unlabeled).

    Shape: [H, W] integer -> uint8 [H, W].
    """
    return TRAIN_TO_LABEL_ID[np.clip(train_ids, 0, IGNORE_INDEX).astype(np.uint8)]


def prediction_path(image: Path, input_root: Path, output_dir: Path) -> Path:
    """Where the prediction of ``image`` goes: same relative path under ``output_dir``, as PNG.

    Keeping the input's stem keeps Cityscapes' ``<city>_<seq>_<frame>`` prefix that the official
    evaluator matches; keeping sub-folders avoids collisions between same-named files.
    """
    relative = image.relative_to(input_root) if input_root.is_dir() else Path(image.name)
    return (output_dir / relative).with_suffix(".png")


def list_images(source: Path) -> tuple[Path, list[Path]]:
    """``(root, images)``: the file itself, or every image under a folder, sorted."""
    if source.is_file():
        return source.parent, [source]
    if not source.is_dir():
        raise PixlError(f"--input {source}: no such file or folder")
    images = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise PixlError(f"--input {source}: no images ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    return source, images


def check_format(fmt: str, num_classes: int) -> None:
    """``labelid`` is the Cityscapes format: only a 19-class (Cityscapes train id) model has it."""
    if fmt not in OUTPUT_FORMATS:
        raise PixlError(f"--format {fmt!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if fmt == "labelid" and num_classes != CITYSCAPES_NUM_CLASSES:
        raise PixlError(
            f"--format labelid writes Cityscapes label ids and needs a {CITYSCAPES_NUM_CLASSES}-class "
            f"model; this one has {num_classes} classes (use trainid)"
        )


def save_prediction(
    prediction: np.ndarray,
    path: str | Path,
    fmt: OutputFormat,
    *,
    palette: Palette,
    image: np.ndarray | None = None,
    alpha: float = 0.5,
    class_names: Sequence[str] | None = None,
) -> Path:
    """Write one prediction (train ids [H, W]) as ``fmt``; ``overlay`` needs the RGB ``image``.

    With ``class_names``, the ``color`` and ``overlay`` pictures get a legend strip below the image
    (swatch and name of each class in the prediction); the id formats never do.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "trainid":
        write_png_atomic(path, prediction.astype(np.uint8))
    elif fmt == "labelid":
        write_png_atomic(path, train_ids_to_label_ids(prediction))
    elif fmt == "color":
        write_rgb_atomic(
            path, _legend(colorize(prediction, palette), prediction, palette, class_names)
        )
    elif fmt == "overlay":
        if image is None:
            raise ValueError("the overlay format needs the input image")
        picture = overlay(image, prediction, palette, alpha)
        write_rgb_atomic(path, _legend(picture, prediction, palette, class_names))
    else:
        raise PixlError(f"format {fmt!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    return path


def _legend(
    picture: np.ndarray, prediction: np.ndarray, palette: Palette, names: Sequence[str] | None
) -> np.ndarray:
    if names is None:
        return picture
    present = classes_present(prediction, num_classes=min(len(names), len(palette)))
    return with_legend(picture, present, names, palette)
