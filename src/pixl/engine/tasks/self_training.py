"""Self-training (DACS with HRDA, docs/design.md "The baseline PiXL builds on"): the EMA
teacher pseudo-labels the unaugmented unlabelled images; ClassMix pastes half of each labelled
image's classes onto them, then strong augmentation; the student's pass on these mixed images is
the step's second pass. After the optimizer step the teacher averages the student in.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from pixl.config.schema import SelfTrainingConfig
from pixl.data.augment import strong_augment
from pixl.data.mixing import class_mix
from pixl.engine.tasks.base import Sample, TrainBatch
from pixl.engine.tasks.pseudo import PseudoLabels, teacher_pseudo_labels
from pixl.engine.teacher import EMATeacher, batch_statistics


class SelfTraining:
    """What makes the mixed pass's images, labels and pixel weights, and keeps the teacher.

    ``raw_model`` is the unwrapped student the teacher copies and averages; ``generator`` draws
    the mixing and the augmentation (the task's, saved per rank in the checkpoint).
    """

    def __init__(
        self,
        config: SelfTrainingConfig,
        teacher: EMATeacher,
        raw_model: nn.Module,
        generator: torch.Generator,
    ) -> None:
        self.config = config
        self.teacher = teacher
        self.raw_model = raw_model
        self.generator = generator

    def active(self, step: int) -> bool:
        """Pseudo-labels and mixing begin at ``self_training.start_step``."""
        return step >= self.config.start_step

    def mixed_inputs(self, batch: TrainBatch) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """The mixed images, their labels and pixel weights, and the pseudo-label statistics."""
        if batch.unlabelled is None:
            raise ValueError("self-training needs an unlabelled batch")
        st = self.config
        target = batch.unlabelled["image"]
        teacher = self.teacher.module
        # teacher_norm "train": BatchNorm on the target batch's statistics (DACS / HRDA).
        norm = batch_statistics(teacher) if st.teacher_norm == "train" else nullcontext()
        with norm:
            pseudo = teacher_pseudo_labels(
                teacher,
                target,
                st.pseudo_threshold,
                st.margins,
                st.pseudo_weighting,
                batch.unlabelled.get("frame_box"),
            )
        images, labels, weight = self.mix(batch.labelled, target, pseudo)
        stats = {
            "pseudo/confidence": pseudo.confidence.mean().detach(),
            "pseudo/weight": pseudo.weight.mean().detach(),
        }
        return images, labels, weight, stats

    def mix(
        self, labelled: Sample, target: Tensor, pseudo: PseudoLabels
    ) -> tuple[Tensor, Tensor, Tensor]:
        """ClassMix (or plain target images) then strong augmentation: images, labels, weights."""
        st = self.config
        if st.classmix:
            mixed = class_mix(
                labelled["image"],
                labelled["label"],
                target,
                pseudo.labels,
                pseudo.weight,
                generator=self.generator,
            )
            images, labels, weight = mixed["image"], mixed["label"], mixed["weight"]
        else:
            images, labels, weight = target, pseudo.labels, pseudo.weight
        if st.strong_augment:
            images = strong_augment(images, generator=self.generator)
        return images, labels, weight

    def after_optimizer_step(self, step: int) -> dict[str, Tensor]:
        alpha = self.teacher.update(self.raw_model, step)
        return {"teacher/alpha": torch.tensor(alpha)}

    def state_dict(self) -> dict[str, Any]:
        return {"teacher": self.teacher.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.teacher.load_state_dict(state["teacher"])
