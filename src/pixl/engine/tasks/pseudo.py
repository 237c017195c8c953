"""Pseudo-labels from the EMA teacher (DACS/HRDA, docs/design.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pixl.config.schema import Margins, PseudoWeighting
from pixl.core import IGNORE_INDEX
from pixl.models import predict_logits


@dataclass
class PseudoLabels:
    labels: Tensor
    """[B, H, W] teacher argmax; margins set to the ignore index."""
    weight: Tensor
    """[B, H, W] per-image fraction of confident pixels (``image_fraction``) or 1 on confident
    pixels (``pixel_mask``); 0 in the margins."""
    confidence: Tensor
    """[B, H, W] teacher max probability."""


def margin_pixels(height: int, margins: Margins) -> tuple[int, int, int, int]:
    """Margins (top, bottom, left, right) scaled from the reference frame height to ``height``."""
    scale = height / margins.reference_height
    return tuple(  # type: ignore[return-value]
        round(v * scale) for v in (margins.top, margins.bottom, margins.left, margins.right)
    )


def pseudo_labels_from_probs(
    probs: Tensor,
    threshold: float,
    margins: Margins,
    weighting: PseudoWeighting = "image_fraction",
) -> PseudoLabels:
    """Argmax labels weighted by confidence >= threshold.

    ``image_fraction`` (DACS/HRDA, the paper): every pixel weighs the image's fraction of confident
    pixels. ``pixel_mask``: confident pixels weigh 1, the others are ignored (label and weight),
    which keeps a weak teacher's confident-looking majority class off the pixels it is unsure of.
    Shape: probs [B, C, H, W] -> labels, weight, confidence [B, H, W].
    """
    confidence, labels = probs.max(dim=1)
    confident = confidence >= threshold
    if weighting == "pixel_mask":
        weight = confident.float()
        labels = torch.where(confident, labels, torch.full_like(labels, IGNORE_INDEX))
    else:
        fraction = confident.float().mean(dim=(1, 2))
        weight = fraction.view(-1, 1, 1).expand_as(confidence).clone()
    top, bottom, left, right = margin_pixels(probs.shape[-2], margins)
    outside = torch.zeros_like(labels, dtype=torch.bool)
    height, width = labels.shape[-2:]
    outside[:, :top] = True
    outside[:, height - bottom :] = True  # empty slice when bottom is 0
    outside[:, :, :left] = True
    outside[:, :, width - right :] = True
    labels = torch.where(outside, torch.full_like(labels, IGNORE_INDEX), labels)
    weight = torch.where(outside, torch.zeros_like(weight), weight)
    return PseudoLabels(labels=labels, weight=weight, confidence=confidence)


@torch.no_grad()
def teacher_pseudo_labels(
    teacher: nn.Module,
    images: Tensor,
    threshold: float,
    margins: Margins,
    weighting: PseudoWeighting = "image_fraction",
) -> PseudoLabels:
    """The teacher's prediction on the unaugmented images, upsampled to their size (any size: the
    images are padded to the model's multiple and the logits cropped back).

    Shape: images [B, 3, H, W] -> labels, weight, confidence [B, H, W].
    """
    logits = predict_logits(teacher, images).float()
    return pseudo_labels_from_probs(torch.softmax(logits, dim=1), threshold, margins, weighting)
