"""CE* (eq. 16) on a pass: the labelled batch's CE and the pseudo-label CE on the mixed images."""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn.functional as F
from torch import Tensor

from pixl.core import IGNORE_INDEX
from pixl.engine.terms.base import (
    LABELLED,
    MIXED,
    LossTerm,
    Pass,
    PassName,
    TermContext,
    TermOutput,
)
from pixl.models import Box, TrainOutput


def weighted_cross_entropy(
    logits: Tensor, labels: Tensor, weight: Tensor | None = None, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """Pixel CE of logits upsampled to the labels' size, times ``weight``, mean over all pixels.

    Ignored pixels count in the mean with 0 (as mmseg/DACS do), so a weight map scales the loss.
    Shape: logits [B, C, h, w], labels [B, H, W], weight [B, H, W] or None -> scalar.
    """
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    loss = F.cross_entropy(logits.float(), labels, ignore_index=ignore_index, reduction="none")
    if weight is not None:
        loss = loss * weight
    return loss.mean()


def crop_map(values: Tensor, box: Box) -> Tensor:
    """Shape: [B, H, W] -> [B, box.height, box.width]."""
    return box.crop(values)


def ce_star(
    forward: TrainOutput, labels: Tensor, weight: Tensor | None, detail_weight: float
) -> Tensor:
    """Eq. (16): CE of the (fused) prediction + lambda_H x CE of the detail prediction (HRDA).

    Shape: labels [B, H, W], weight [B, H, W] or None -> scalar.
    """
    loss = weighted_cross_entropy(forward.logits, labels, weight)
    if forward.high is not None and forward.box is not None and detail_weight > 0:
        detail_weight_map = crop_map(weight, forward.box) if weight is not None else None
        detail = weighted_cross_entropy(
            forward.high.logits, crop_map(labels, forward.box), detail_weight_map
        )
        loss = loss + detail_weight * detail
    return loss


class CrossEntropyTerm:
    """``ce_<pass>``: CE* of one pass against its labels, pixel-weighted by the pass's weight."""

    with_pass = True

    def __init__(self, on: PassName, detail_weight: float) -> None:
        self.on = on
        self.detail_weight = detail_weight

    def reads(self, step: int, available: tuple[PassName, ...]) -> tuple[PassName, ...]:
        return (self.on,) if self.on in available else ()

    def label(self, passes: tuple[PassName, ...]) -> str:
        return "CE*"

    def __call__(self, passes: Mapping[PassName, Pass], step: int) -> TermOutput:
        p = passes[self.on]
        return TermOutput(
            {f"ce_{self.on}": ce_star(p.forward, p.labels, p.weight, self.detail_weight)}
        )


def build(context: TermContext) -> list[LossTerm]:
    """CE* on the labelled pass, and on the mixed pass where the run self-trains
    (``model.detail_weight``: lambda_H)."""
    detail_weight = context.config.model.detail_weight
    passes = (LABELLED, MIXED) if context.mixed else (LABELLED,)
    return [CrossEntropyTerm(on, detail_weight) for on in passes]
