"""Transforms of an (image, label) pair as numpy arrays: resize, random crop, flip, normalise.

Randomness always comes from an explicit ``numpy.random.Generator`` so a sample is a pure
function of its index and seed, whatever DataLoader worker computes it.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from pixl.core import IGNORE_INDEX

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def resize_pair(
    image: np.ndarray, label: np.ndarray | None, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize to ``size = (h, w)``: bilinear for the image, nearest for the label.

    Shape: image [H, W, 3], label [H, W] -> [h, w, 3], [h, w].
    """
    height, width = size
    if image.shape[:2] == (height, width):
        return image, label
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    if label is not None:
        label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
    return image, label


def _pad_to(
    image: np.ndarray, label: np.ndarray | None, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pad bottom/right up to ``size`` (image with 0, label with IGNORE_INDEX)."""
    pad_h, pad_w = max(size[0] - image.shape[0], 0), max(size[1] - image.shape[1], 0)
    if pad_h == 0 and pad_w == 0:
        return image, label
    image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)))
    if label is not None:
        label = np.pad(label, ((0, pad_h), (0, pad_w)), constant_values=IGNORE_INDEX)
    return image, label


def _max_class_ratio_ok(label: np.ndarray, cat_max_ratio: float) -> bool:
    """mmseg's test: more than one class and the largest under ``cat_max_ratio`` of valid pixels."""
    _, counts = np.unique(label[label != IGNORE_INDEX], return_counts=True)
    return len(counts) > 1 and counts.max() / counts.sum() < cat_max_ratio


def random_crop_at(
    image: np.ndarray,
    label: np.ndarray | None,
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    cat_max_ratio: float = 1.0,
    tries: int = 10,
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Random ``size = (h, w)`` crop (padding first if smaller) and its corner ``(top, left)`` in
    the padded image.

    With ``cat_max_ratio < 1`` the crop is redrawn up to ``tries`` times until no single class
    covers more than that fraction of its valid pixels (mmseg's RandomCrop, used on the source).
    Shape: [H, W, 3], [H, W] -> [h, w, 3], [h, w].
    """
    image, label = _pad_to(image, label, size)
    height, width = size
    for _ in range(tries if (cat_max_ratio < 1.0 and label is not None) else 1):
        top = int(rng.integers(0, image.shape[0] - height + 1))
        left = int(rng.integers(0, image.shape[1] - width + 1))
        crop_label = None if label is None else label[top : top + height, left : left + width]
        if crop_label is None or cat_max_ratio >= 1.0:
            break
        if _max_class_ratio_ok(crop_label, cat_max_ratio):
            break
    crop_image = image[top : top + height, left : left + width]
    return crop_image, crop_label, (top, left)


def random_flip_flag(
    image: np.ndarray, label: np.ndarray | None, rng: np.random.Generator, p: float = 0.5
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Horizontal flip with probability ``p``, and whether it flipped. Shape: unchanged."""
    flipped = bool(rng.random() < p)
    if flipped:
        image = image[:, ::-1]
        label = None if label is None else label[:, ::-1]
    return image, label, flipped


def normalize_image(image: np.ndarray) -> torch.Tensor:
    """uint8 RGB -> ImageNet-normalised float tensor. Shape: [H, W, 3] -> [3, H, W]."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return tensor.sub_(mean).div_(std)


def label_tensor(label: np.ndarray) -> torch.Tensor:
    """uint8 train ids -> LongTensor. Shape: [H, W] -> [H, W]."""
    return torch.from_numpy(np.ascontiguousarray(label)).long()


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalised -> [0, 1]. Shape: [B, 3, H, W] -> [B, 3, H, W]."""
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return images * std + mean


def renormalize(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> ImageNet-normalised. Shape: [B, 3, H, W] -> [B, 3, H, W]."""
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images - mean) / std
