"""What every task shares: the batch and output types, the student pass, CE* and the PiXL term.

A task turns one training batch into a loss and its named terms; only the trainer runs backward,
steps the optimizer, logs and saves (the task's ``after_optimizer_step`` updates a teacher).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pixl.config.schema import PiXLConfig
from pixl.core import IGNORE_INDEX, PiXLLoss, eta_at, labels_to_feature_resolution
from pixl.core.loss import Resolution
from pixl.models import Box, SegmentationModel, SegmentationOutput, TrainOutput

Sample = dict[str, Any]


@dataclass
class TrainBatch:
    """One step's data: the labelled (source) batch and, for self-training, the unlabelled one."""

    labelled: Sample
    unlabelled: Sample | None = None


@dataclass
class StepOutput:
    """The loss to minimise, its detached terms (``loss`` included) and statistics for logging."""

    loss: Tensor
    terms: dict[str, Tensor]
    stats: dict[str, Tensor] = field(default_factory=dict)


def student_forward(
    model: SegmentationModel, images: Tensor, generator: torch.Generator
) -> TrainOutput:
    """The student's training pass: the model draws whatever it needs (HRDA: its detail box)
    from ``generator``, so the engine never asks which kind of model it holds.

    Shape: images [B, 3, H, W] -> logits [B, C, H/4, W/4].
    """
    return model.forward_train(images, generator)


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


@dataclass
class PiXLPart:
    """One forward pass's share of a PiXL group: its output, labels and optional pixel weights."""

    forward: TrainOutput
    labels: Tensor
    """[B, H, W] at input resolution."""
    weight: Tensor | None = None
    """[B, H, W] per-pixel weight of the anchors (``pixl.mixed_weighting: pseudo``), or None."""


class PiXLTerm:
    """The PiXL loss of one group of images with the run's eta schedule.

    A group is one forward pass (``pixl.group: per_pass``) or several passes concatenated along
    the batch (``joint``: the labelled and the mixed images share one set of prototypes).
    """

    def __init__(self, config: PiXLConfig, num_classes: int, max_steps: int) -> None:
        self.config = config
        self.num_classes = num_classes
        self.max_steps = max_steps
        self.criterion = PiXLLoss(
            num_classes, config.temperature, config.adaptive_selection, IGNORE_INDEX
        )

    def eta(self, step: int) -> float:
        """eta_start -> eta_end linearly, from step 0 or from ``start_step`` (``pixl.eta_from``)."""
        c = self.config
        origin = c.start_step if c.eta_from == "start_step" else 0
        span = max(self.max_steps - origin, 1)
        return eta_at(max(step - origin, 0), span, c.eta_start, c.eta_end)

    def active(self, step: int) -> bool:
        """PiXL joins the loss at ``pixl.start_step`` (0: from the first step, as in the paper)."""
        return step >= self.config.start_step

    @property
    def joint_group(self) -> bool:
        return self.config.group == "joint"

    def __call__(
        self, parts: list[PiXLPart], step: int, prefix: str
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``weight x pixl_loss(low, high)`` of the parts as one group, and its statistics
        named ``{prefix}/...``."""
        lows = [self._resolution(p.forward.low, p.labels, p.weight) for p in parts]
        highs = [self._high(p) for p in parts]
        high = None
        if all(h is not None for h in highs):
            high = _concat([h for h in highs if h is not None])
        elif any(h is not None for h in highs):
            raise ValueError("a PiXL group mixes passes with and without a detail crop")
        low = _concat(lows)
        result = self.criterion(
            low.resolution,
            None if high is None else high.resolution,
            self.eta(step),
            low.weight,
            None if high is None else high.weight,
        )
        stats = {f"{prefix}/{k}": v.detach().float() for k, v in result.stats.__dict__.items()}
        return self.config.weight * result.loss, stats

    def _high(self, part: PiXLPart) -> _GroupInput | None:
        forward = part.forward
        if forward.high is None or forward.box is None:
            return None
        weight = None if part.weight is None else crop_map(part.weight, forward.box)
        return self._resolution(forward.high, crop_map(part.labels, forward.box), weight)

    def _resolution(
        self, out: SegmentationOutput, labels: Tensor, weight: Tensor | None
    ) -> _GroupInput:
        size = (out.features.shape[-2], out.features.shape[-1])
        cells = labels_to_feature_resolution(labels, size, self.num_classes, IGNORE_INDEX)
        # A cell weighs the mean of its pixels' weights (labels take the cell's majority).
        cell_weight = (
            None
            if weight is None
            else F.adaptive_avg_pool2d(weight[:, None].to(out.features.dtype), size)[:, 0]
        )
        return _GroupInput(out.features, out.logits, cells, cell_weight)


@dataclass
class _GroupInput:
    """One resolution of a PiXL group at feature resolution."""

    features: Tensor
    logits: Tensor
    labels: Tensor
    """[B, h, w] majority label of each feature cell."""
    weight: Tensor | None
    """[B, h, w] anchor weight of each cell, or None (all 1)."""

    @property
    def resolution(self) -> Resolution:
        """What ``pixl.core`` takes: ``(features, logits, labels)``."""
        return self.features, self.logits, self.labels


def _concat(parts: list[_GroupInput]) -> _GroupInput:
    """Passes of one group concatenated along the batch; a pass without weights weighs 1."""
    if len(parts) == 1:
        return parts[0]
    if len({tuple(p.features.shape[1:]) for p in parts}) > 1:
        raise ValueError(
            "pixl.group 'joint' needs the labelled and mixed passes at the same feature size, got "
            + ", ".join(str(tuple(p.features.shape[-2:])) for p in parts)
        )
    weights = None
    if any(p.weight is not None for p in parts):
        weights = torch.cat(
            [
                p.weight
                if p.weight is not None
                else torch.ones_like(p.labels, dtype=p.features.dtype)
                for p in parts
            ]
        )
    return _GroupInput(
        torch.cat([p.features for p in parts]),
        torch.cat([p.logits for p in parts]),
        torch.cat([p.labels for p in parts]),
        weights,
    )


def detached(terms: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().float() for k, v in terms.items()}
