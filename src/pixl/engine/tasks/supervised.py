"""Supervised task: CE* (eq. 16) + PiXL on the labelled batch."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from pixl.config.schema import ExperimentConfig
from pixl.engine.tasks.base import (
    PiXLPart,
    PiXLTerm,
    StepOutput,
    TrainBatch,
    ce_star,
    detached,
    student_forward,
)
from pixl.models import TrainOutput


class SupervisedTask:
    """``loss = CE*(labelled) + [PiXL(labelled)]``.

    ``model`` is what the trainer set up (possibly DDP-wrapped); ``generator`` draws the HRDA
    detail boxes and is part of the checkpoint (``state_dict``).
    """

    def __init__(
        self,
        config: ExperimentConfig,
        model: nn.Module,
        num_classes: int,
        generator: torch.Generator,
    ) -> None:
        self.config = config
        self.model = model
        self.num_classes = num_classes
        self.generator = generator
        self.pixl = (
            PiXLTerm(config.pixl, num_classes, config.trainer.max_steps)
            if config.pixl.enabled
            else None
        )

    def labelled_losses(
        self, batch: TrainBatch, step: int
    ) -> tuple[dict[str, Tensor], dict[str, Tensor], TrainOutput]:
        """CE* and PiXL of the labelled batch, their statistics and the forward pass."""
        images, labels = batch.labelled["image"], batch.labelled["label"]
        forward = student_forward(self.model, images, self.generator)
        terms = {"ce_labelled": ce_star(forward, labels, None, self.config.model.detail_weight)}
        stats: dict[str, Tensor] = {}
        if self.pixl is not None and self.pixl.active(step):
            stats["pixl/eta"] = torch.tensor(self.pixl.eta(step))
            if not (self.pixl.joint_group and self.has_mixed_pass(step)):
                part = PiXLPart(forward, labels)
                terms["pixl_labelled"], pixl_stats = self.pixl([part], step, "pixl_labelled")
                stats.update(pixl_stats)
        return terms, stats, forward

    def has_mixed_pass(self, step: int) -> bool:
        """Whether this step also trains on mixed images (never, without self-training)."""
        return False

    def training_step(self, batch: TrainBatch, *, step: int) -> StepOutput:
        terms, stats, _ = self.labelled_losses(batch, step)
        return finish(terms, stats)

    def after_optimizer_step(self, step: int) -> dict[str, Tensor]:
        """Nothing to update in the supervised task."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Shared (rank-independent) task state; the generator is saved per rank by the trainer."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore in the supervised task."""


def finish(terms: dict[str, Tensor], stats: dict[str, Tensor]) -> StepOutput:
    """The total loss (eq. 17: the sum of the weighted terms) with every term for logging."""
    loss = torch.stack([t.float() for t in terms.values()]).sum()
    return StepOutput(loss=loss, terms=detached({"loss": loss, **terms}), stats=stats)
