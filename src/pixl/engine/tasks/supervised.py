"""Supervised task: CE* (eq. 16) + PiXL on the labelled batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from pixl.config.schema import ExperimentConfig
from pixl.engine.memory import memory_stage
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
        with memory_stage("labelled pass + CE*"):
            forward = student_forward(self.model, images, self.generator)
            terms = {"ce_labelled": ce_star(forward, labels, None, self.config.model.detail_weight)}
        stats: dict[str, Tensor] = {}
        if self.pixl is not None and self.pixl.active(step):
            stats["pixl/eta"] = torch.tensor(self.pixl.eta(step))
            if not (self.pixl.joint_group and self.has_mixed_pass(step)):
                part = PiXLPart(forward, labels)
                with memory_stage("PiXL labelled"):
                    terms["pixl_labelled"], pixl_stats = self.pixl([part], step, "pixl_labelled")
                stats.update(pixl_stats)
        return terms, stats, forward

    def has_mixed_pass(self, step: int) -> bool:
        """Whether this step also trains on mixed images (never, without self-training)."""
        return False

    def training_step(self, batch: TrainBatch, *, step: int) -> StepOutput:
        terms, stats, _ = self.labelled_losses(batch, step)
        return finish(terms, stats)

    def training_stages(self, batch: TrainBatch, *, step: int) -> Iterator[StepOutput]:
        """The step's losses in the order the trainer backpropagates them (here: one stage)."""
        yield self.training_step(batch, step=step)

    def after_optimizer_step(self, step: int) -> dict[str, Tensor]:
        """Nothing to update in the supervised task."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Shared (rank-independent) task state; the generator is saved per rank by the trainer."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore in the supervised task."""


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


def finish(terms: dict[str, Tensor], stats: dict[str, Tensor]) -> StepOutput:
    """The total loss (eq. 17: the sum of the weighted terms) with every term for logging."""
    loss = torch.stack([t.float() for t in terms.values()]).sum()
    return StepOutput(loss=loss, terms=detached({"loss": loss, **terms}), stats=stats)
