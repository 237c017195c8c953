"""Pseudo-labels from the EMA teacher (DACS/HRDA, docs/design.md, "The baseline PiXL builds on")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def margin_mask(
    size: tuple[int, int], margins: Margins, frame_boxes: Tensor | None, batch: int, device: Any
) -> Tensor:
    """True on the pixels of each crop that lie in the frame's margins (HRDA: margins belong to
    the whole frame, so a crop from its middle keeps every pixel).

    ``frame_boxes`` [B, 5] = (top, left, frame height, frame width, flipped) of each crop in its
    frame; None: each crop is its own frame. Margins scale with the frame's height.
    Shape: -> [B, *size] bool.
    """
    height, width = size
    if frame_boxes is None:
        frame_boxes = torch.tensor([[0, 0, height, width, 0]] * batch)
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    masks = []
    for top, left, frame_h, frame_w, flipped in frame_boxes.tolist():
        m_top, m_bottom, m_left, m_right = margin_pixels(frame_h, margins)
        frame_rows = top + rows
        frame_cols = left + (cols.flip(0) if flipped else cols)
        out_rows = (frame_rows < m_top) | (frame_rows >= frame_h - m_bottom)
        out_cols = (frame_cols < m_left) | (frame_cols >= frame_w - m_right)
        masks.append(out_rows[:, None] | out_cols[None, :])
    return torch.stack(masks)


def pseudo_labels_from_probs(
    probs: Tensor,
    threshold: float,
    margins: Margins,
    weighting: PseudoWeighting = "image_fraction",
    frame_boxes: Tensor | None = None,
) -> PseudoLabels:
    """Argmax labels weighted by confidence >= threshold.

    ``image_fraction`` (DACS/HRDA, the paper): every pixel weighs the image's fraction of confident
    pixels. ``pixel_mask``: confident pixels weigh 1, the others are ignored (label and weight),
    which keeps a weak teacher's confident-looking majority class off the pixels it is unsure of.
    Margins (label ignore, weight 0) are those of each crop's frame (``frame_boxes``, see
    :func:`margin_mask`). Shape: probs [B, C, H, W] -> labels, weight, confidence [B, H, W].
    """
    confidence, labels = probs.max(dim=1)
    confident = confidence >= threshold
    if weighting == "pixel_mask":
        weight = confident.float()
        labels = torch.where(confident, labels, torch.full_like(labels, IGNORE_INDEX))
    else:
        fraction = confident.float().mean(dim=(1, 2))
        weight = fraction.view(-1, 1, 1).expand_as(confidence).clone()
    outside = margin_mask(
        (labels.shape[-2], labels.shape[-1]), margins, frame_boxes, labels.shape[0], labels.device
    )
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
    frame_boxes: Tensor | None = None,
) -> PseudoLabels:
    """The teacher's prediction on the unaugmented images, upsampled to their size (any size: the
    images are padded to the model's multiple and the logits cropped back).

    Shape: images [B, 3, H, W] -> labels, weight, confidence [B, H, W].
    """
    logits = predict_logits(teacher, images).float()
    probs = torch.softmax(logits, dim=1)
    return pseudo_labels_from_probs(probs, threshold, margins, weighting, frame_boxes)
