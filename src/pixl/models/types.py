"""The typed outputs every model returns (one type per kind of forward, never a flag)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class Box:
    """A detail crop in input-pixel coordinates: rows [top, top+height), cols [left, left+width)."""

    top: int
    left: int
    height: int
    width: int


@dataclass
class SegmentationOutput:
    """What every segmentor's ``forward(images)`` returns.

    logits:   [B, C, H/4, W/4] class scores at the feature stride (upsample for full-size predictions).
    features: [B, D, H/4, W/4] the pixel embedding right before the classifier.
    """

    logits: Tensor
    features: Tensor
