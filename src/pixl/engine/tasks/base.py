"""What every task shares: the batch and output types, the student pass, the sum of the terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from pixl.models import SegmentationModel, TrainOutput

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


def detached(terms: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().float() for k, v in terms.items()}


def finish(terms: dict[str, Tensor], stats: dict[str, Tensor]) -> StepOutput:
    """The total loss (eq. 17: the sum of the weighted terms) with every term for logging."""
    loss = torch.stack([t.float() for t in terms.values()]).sum()
    return StepOutput(loss=loss, terms=detached({"loss": loss, **terms}), stats=stats)


def merge_stages(stages: list[StepOutput], *, detach: bool = False) -> StepOutput:
    """One output for a step's stages: the summed loss (detached when the stages were already
    backpropagated), every term and statistic."""
    if len(stages) == 1 and not detach:
        return stages[0]
    loss = torch.stack([s.loss for s in stages]).sum()
    if detach:
        loss = loss.detach()
    terms = {k: v for s in stages for k, v in s.terms.items() if k != "loss"}
    stats = {k: v for s in stages for k, v in s.stats.items()}
    return StepOutput(loss=loss, terms={"loss": loss.detach().float(), **terms}, stats=stats)
