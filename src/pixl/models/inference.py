"""Full-resolution predictions from any pixl segmentor: whole image or sliding window."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pixl.models.contract import Predictor
from pixl.models.hrda import window_starts

WINDOW_BATCH = 8
"""Default most crops per model call in sliding-window inference."""


def size_multiple(model: Predictor) -> int:
    """The side multiple the model's inputs need (``size_divisor``; 1 when it takes any size)."""
    return int(model.size_divisor)


def _logits(model: Predictor, images: Tensor) -> Tensor:
    """Logits at the input size for any input size: the images are zero-padded at the bottom and
    right to the model's multiple (zero is the mean colour after normalisation, as mmseg pads),
    and the logits, upsampled bilinearly to the padded size, are cropped back.

    Shape: [B, 3, h, w] -> [B, C, h, w].
    """
    height, width = images.shape[-2:]
    multiple = size_multiple(model)
    pad_h, pad_w = -height % multiple, -width % multiple
    padded = F.pad(images, (0, pad_w, 0, pad_h)) if pad_h or pad_w else images
    logits = model(padded).logits
    logits = F.interpolate(logits, size=padded.shape[-2:], mode="bilinear", align_corners=False)
    return logits[..., :height, :width]


@torch.no_grad()
def predict_logits(
    model: Predictor,
    images: Tensor,
    *,
    mode: Literal["whole", "slide"] = "whole",
    window: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
    window_batch: int = WINDOW_BATCH,
) -> Tensor:
    """Class scores at the input resolution, computed on the images' device, without gradients.

    Any input size: each model call pads to the model's ``size_divisor`` and crops back.

    ``slide`` runs the model on overlapping windows (``window``; ``stride`` defaults to half of it)
    and averages the logits where windows overlap. Windows are stacked into batched calls of at
    most ``window_batch`` crops (at least one window of every image per call): one call per window
    left the device idle between small calls. HRDA models slide their detail branch inside each
    window by themselves. The caller chooses train/eval mode.
    Shape: images [B, 3, H, W] -> [B, C, H, W].
    """
    if mode == "whole":
        return _logits(model, images)
    if mode != "slide":
        raise ValueError(f"mode must be 'whole' or 'slide', got {mode!r}")
    if window is None:
        raise ValueError("slide inference needs a window (height, width)")
    height, width = images.shape[-2:]
    win_h, win_w = min(window[0], height), min(window[1], width)
    step_h, step_w = stride if stride is not None else (max(win_h // 2, 1), max(win_w // 2, 1))
    if step_h <= 0 or step_w <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    corners = [
        (top, left)
        for top in window_starts(height, win_h, step_h)
        for left in window_starts(width, win_w, step_w)
    ]
    batch = images.shape[0]
    per_call = max(1, window_batch // batch)
    total: Tensor | None = None
    count = images.new_zeros((1, 1, height, width))
    for first in range(0, len(corners), per_call):
        chunk = corners[first : first + per_call]
        crops = [images[..., t : t + win_h, x : x + win_w] for t, x in chunk]
        parts = _logits(model, torch.cat(crops)).split(batch)
        if total is None:
            total = parts[0].new_zeros((batch, parts[0].shape[1], height, width))
        for (top, left), part in zip(chunk, parts, strict=True):
            total[..., top : top + win_h, left : left + win_w] += part
            count[..., top : top + win_h, left : left + win_w] += 1
    assert total is not None  # window_starts always yields at least one window
    return total / count
