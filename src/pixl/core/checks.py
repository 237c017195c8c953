"""Argument checks that turn user mistakes into one-line ``ValueError``s naming the argument."""

from __future__ import annotations

import torch
from torch import Tensor


def check_eta(eta: float) -> None:
    if not 0.0 <= float(eta) <= 1.0:
        raise ValueError(f"eta: expected a drift fraction in [0, 1], got {eta}")


def check_temperature(temperature: float) -> None:
    if not float(temperature) > 0.0:
        raise ValueError(f"temperature: expected a value > 0, got {temperature}")


def check_labels(name: str, labels: Tensor, num_classes: int, ignore_index: int) -> None:
    """Labels must be integers in [0, num_classes) or ``ignore_index``."""
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"{name}: expected an integer label tensor, got dtype {labels.dtype}")
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
    if bool(bad.any()):
        values = torch.unique(labels[bad])[:5].tolist()
        raise ValueError(
            f"{name}: expected class ids in [0, {num_classes}) or the ignore index "
            f"{ignore_index}, got {values}"
        )


def check_resolution(
    name: str, resolution: tuple[Tensor, Tensor, Tensor], num_classes: int, ignore_index: int
) -> None:
    """One ``(features [B,D,h,w], logits [B,C,h,w], labels [B,h,w])`` tuple is consistent."""
    if not isinstance(resolution, tuple | list) or len(resolution) != 3:
        raise ValueError(f"{name}: expected a tuple (features, logits, labels)")
    features, logits, labels = resolution
    if features.dim() != 4 or not features.dtype.is_floating_point:
        raise ValueError(
            f"{name} features: expected a float tensor [B, D, h, w], got "
            f"{features.dtype} of shape {tuple(features.shape)}"
        )
    expected_logits = (features.shape[0], num_classes, *features.shape[2:])
    if tuple(logits.shape) != expected_logits:
        raise ValueError(
            f"{name} logits: expected shape {expected_logits} (B, num_classes, h, w of the "
            f"features), got {tuple(logits.shape)}"
        )
    expected_labels = (features.shape[0], *features.shape[2:])
    if tuple(labels.shape) != expected_labels:
        raise ValueError(
            f"{name} labels: expected shape {expected_labels} (B, h, w of the features; bring "
            f"labels to feature resolution first), got {tuple(labels.shape)}"
        )
    check_labels(f"{name} labels", labels, num_classes, ignore_index)
