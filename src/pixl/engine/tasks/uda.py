"""UDA task: the self-training step of ``semi.py`` on source (labelled) and target (unlabelled)
images, plus the thing-class ImageNet feature distance on the source batch (eq. 17)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pixl.config.schema import ExperimentConfig
from pixl.engine.memory import memory_stage
from pixl.engine.tasks.base import TrainBatch
from pixl.engine.tasks.semi import SemiSupervisedTask
from pixl.engine.teacher import EMATeacher
from pixl.models import TrainOutput


class UDATask(SemiSupervisedTask):
    """``loss = CE*(src) + lambda_FD FD(src) + CE*(mixed) + PiXL(src) + PiXL(mixed)``.

    ``feature_distance`` is ``None`` when FD is off (no ImageNet weights, or ``fd.enabled: false``);
    it already carries its weight lambda_FD.
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
        feature_distance: nn.Module | None,
    ) -> None:
        super().__init__(
            config, model, num_classes, generator, raw_model=raw_model, teacher=teacher
        )
        self.feature_distance = feature_distance

    def extra_losses(
        self, batch: TrainBatch, forward: TrainOutput
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        if self.feature_distance is None:
            return {}, {}
        deep = forward.low.deep_features
        if deep is None:
            raise ValueError("feature distance needs the student's deep (last encoder) features")
        with memory_stage("feature distance"):
            fd = self.feature_distance(forward.low_images, batch.labelled["label"], deep)
        return {"fd": fd}, {}
