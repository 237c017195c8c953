"""Self-training tasks: semi-supervised (this file) and UDA (``uda.py``, adds the feature distance).

Each step (DACS with HRDA, docs/design.md, "The baseline PiXL builds on"):
1. CE* + PiXL on the labelled batch;
2. the EMA teacher pseudo-labels the unaugmented unlabelled images (weight = confident fraction);
3. ClassMix pastes half of each labelled image's classes onto an unlabelled image, then strong
   augmentation; CE* (pixel-weighted) + PiXL on the mixed batch;
4. after the optimizer step the teacher averages the student in.
Steps 2-3 begin at ``self_training.start_step`` (0 in the paper's configs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from pixl.config.schema import ExperimentConfig
from pixl.data.augment import strong_augment
from pixl.data.mixing import class_mix
from pixl.engine.memory import memory_stage
from pixl.engine.tasks.base import PiXLPart, StepOutput, TrainBatch, ce_star, student_forward
from pixl.engine.tasks.pseudo import PseudoLabels, teacher_pseudo_labels
from pixl.engine.tasks.supervised import SupervisedTask, finish, merge_stages
from pixl.engine.teacher import EMATeacher


class SemiSupervisedTask(SupervisedTask):
    """``loss = CE*(labelled) + CE*(mixed, pseudo weights) + PiXL(labelled) + PiXL(mixed)``.

    ``raw_model`` is the unwrapped student (the teacher copies and averages it); ``model`` may be
    the DDP-wrapped one that the forward passes go through.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        model: nn.Module,
        num_classes: int,
        generator: torch.Generator,
        *,
        raw_model: nn.Module,
        teacher: EMATeacher,
    ) -> None:
        super().__init__(config, model, num_classes, generator)
        self.raw_model = raw_model
        self.teacher = teacher

    def training_stages(self, batch: TrainBatch, *, step: int) -> Iterator[StepOutput]:
        """The labelled (source) terms, then the mixed terms, as two stages (HRDA's order): the
        trainer backpropagates the first before the mixed pass runs, so the two graphs are never
        alive together. The gradients are the single-backward ones. With ``pixl.group: joint``
        the joint PiXL term needs the labelled pass in the mixed stage: one stage then.
        """
        terms, stats, forward = self.labelled_losses(batch, step)
        extra_terms, extra_stats = self.extra_losses(batch, forward)
        terms, stats = {**terms, **extra_terms}, {**stats, **extra_stats}
        if not self.has_mixed_pass(step):  # labelled-only warm-up
            yield finish(terms, stats)
            return
        if self.pixl is not None and self.pixl.active(step) and self.pixl.joint_group:
            labelled = PiXLPart(forward, batch.labelled["label"])
            mixed_terms, mixed_stats = self.mixed_losses(batch, step, labelled)
            yield finish({**terms, **mixed_terms}, {**stats, **mixed_stats})
            return
        del forward  # the source outputs go with their graph once the stage is backpropagated
        yield finish(terms, stats)
        del terms
        yield finish(*self.mixed_losses(batch, step, None))

    def training_step(self, batch: TrainBatch, *, step: int) -> StepOutput:
        """All stages in one loss (one backward: both graphs alive together)."""
        return merge_stages(list(self.training_stages(batch, step=step)))

    def extra_losses(
        self, batch: TrainBatch, forward: Any
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Hook for further labelled-batch terms (UDA: feature distance)."""
        return {}, {}

    def has_mixed_pass(self, step: int) -> bool:
        return step >= self.config.self_training.start_step

    def mixed_losses(
        self, batch: TrainBatch, step: int, labelled: PiXLPart | None
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """CE* and PiXL of the mixed batch; with ``pixl.group: joint`` the PiXL term groups the
        ``labelled`` pass (given then) with the mixed one."""
        if batch.unlabelled is None:
            raise ValueError("self-training needs an unlabelled batch")
        st = self.config.self_training
        target = batch.unlabelled["image"]
        with memory_stage("teacher pseudo-labels + mixing"):
            pseudo = teacher_pseudo_labels(
                self.teacher.module,
                target,
                st.pseudo_threshold,
                st.margins,
                st.pseudo_weighting,
                batch.unlabelled.get("frame_box"),
            )
            images, labels, weight = self.mix(batch.labelled, target, pseudo)
        with memory_stage("mixed pass + CE*"):
            forward = student_forward(self.model, images, self.generator)
            terms = {"ce_mixed": ce_star(forward, labels, weight, self.config.model.detail_weight)}
        stats = {
            "pseudo/confidence": pseudo.confidence.mean().detach(),
            "pseudo/weight": pseudo.weight.mean().detach(),
        }
        if self.pixl is not None and self.pixl.active(step):
            pixel_weight = weight if self.config.pixl.mixed_weighting == "pseudo" else None
            mixed = PiXLPart(forward, labels, pixel_weight)
            with memory_stage("PiXL mixed"):
                if self.pixl.joint_group:
                    assert labelled is not None, "the joint group needs the labelled pass"
                    terms["pixl_joint"], pixl_stats = self.pixl(
                        [labelled, mixed], step, "pixl_joint"
                    )
                else:
                    terms["pixl_mixed"], pixl_stats = self.pixl([mixed], step, "pixl_mixed")
            stats.update(pixl_stats)
        return terms, stats

    def mix(
        self, labelled: dict[str, Any], target: Tensor, pseudo: PseudoLabels
    ) -> tuple[Tensor, Tensor, Tensor]:
        """ClassMix (or plain target images) then strong augmentation: images, labels, weights."""
        st = self.config.self_training
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
