"""Reading images and labels with one-line errors, and atomic PNG writes."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from pixl.errors import DataError, one_line

PART_SUFFIX = ".part"


def read_image(path: str | Path) -> np.ndarray:
    """Decode an RGB image as uint8 ``[H, W, 3]`` in its displayed orientation (the EXIF
    orientation of a camera photo applied, as ``image_size`` reports it); a missing, corrupt or
    truncated file raises ``DataError``."""
    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image)
            return np.array(upright.convert("RGB"))  # writable, as torch wants it
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise DataError(
            f"{path}: cannot decode image (corrupt, truncated or not an image)"
        ) from None


def read_train_ids(path: str | Path) -> np.ndarray:
    """Read a ``*_labelTrainIds.png`` (8-bit, one channel) as uint8 ``[H, W]``."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        problem = "file is missing" if not os.path.exists(path) else "cannot decode label"
        raise DataError(f"{path}: {problem} (corrupt, truncated or not a PNG)")
    if data.ndim != 2 or data.dtype != np.uint8:
        raise DataError(
            f"{path}: expected an 8-bit one-channel label, got {data.dtype} {data.shape}"
        )
    return data


def read_indexed_label(path: str | Path) -> np.ndarray:
    """Read a label PNG whose pixel values are class ids (gray ``L`` or palette ``P`` mode)."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("L", "P", "I", "I;16"):
                raise DataError(
                    f"{path}: expected a gray or palette label PNG, got mode {image.mode}"
                )
            return np.asarray(image).astype(np.int64)
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{path}: cannot decode label ({one_line(error)})") from error


def read_synthia_label(path: str | Path) -> np.ndarray:
    """SYNTHIA ``GT/LABELS``: 16-bit PNG, class id in the first PNG channel (OpenCV's last)."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise DataError(f"{path}: cannot decode 16-bit label (corrupt, truncated or missing)")
    if data.ndim != 3 or data.dtype != np.uint16:
        raise DataError(
            f"{path}: expected a 16-bit multi-channel PNG, got {data.dtype} {data.shape}"
        )
    return data[:, :, -1].astype(np.int64)


# EXIF orientations that turn the stored picture by 90 degrees (width and height swap).
_TRANSPOSED = (5, 6, 7, 8)
_ORIENTATION_TAG = 0x0112


def image_size(path: str | Path, *, verify: bool = True) -> tuple[int, int]:
    """``(height, width)`` of an image as displayed (EXIF orientation applied, as ``read_image``
    reads it), from its header. ``verify``: also check the whole file's integrity (chunk CRCs,
    truncation) without decoding; without it only the header is read (fast)."""
    try:
        if verify:
            with Image.open(path) as image:
                image.verify()  # must come first after opening
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(_ORIENTATION_TAG) in _TRANSPOSED:
                width, height = height, width
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{path}: corrupt or truncated image ({one_line(error)})") from error
    return height, width


def write_png_atomic(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as PNG through a temporary file, so no half-written file is ever left."""
    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise DataError(f"{path}: PNG encoding failed for an array {array.dtype} {array.shape}")
    path = Path(path)
    part = path.with_name(f"{path.name}.{os.getpid()}{PART_SUFFIX}")
    try:
        part.write_bytes(encoded.tobytes())
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def write_rgb_atomic(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB uint8 ``[H, W, 3]`` image as PNG, atomically."""
    write_png_atomic(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
