"""Building a run's pieces from its config: model, feature distance, task."""

from __future__ import annotations

import logging
import warnings

import torch
from torch import nn

from pixl.config import ExperimentConfig
from pixl.data import DatasetInfo, dataset_info
from pixl.engine.tasks import SemiSupervisedTask, SupervisedTask, UDATask
from pixl.engine.teacher import EMATeacher
from pixl.errors import ConfigError
from pixl.models import (
    FeatureDistance,
    create_model,
    set_activation_checkpointing,
    without_starting_weights,
)

log = logging.getLogger(__name__)


def training_classes(config: ExperimentConfig) -> DatasetInfo:
    """The classes a model of ``config`` learns: those of the labelled (source) data."""
    labelled = config.data.labelled
    return dataset_info(labelled.kind, labelled.root)


def num_classes_of(config: ExperimentConfig) -> int:
    return training_classes(config).num_classes


def build_model(
    config: ExperimentConfig, num_classes: int | None = None, *, pretrained: bool = True
) -> nn.Module:
    """``create_model(model.name, num_classes, **model.options)``; option errors name the key.

    ``num_classes``: default, the labelled data's (read from it); ``pretrained=False`` builds
    the encoder without its starting weights (inference: the trained weights replace them, and
    no hub or weights file is needed)."""
    options = config.model.options if pretrained else without_starting_weights(config.model.options)
    classes = num_classes_of(config) if num_classes is None else num_classes
    try:
        model = create_model(config.model.name, classes, **options)
    except ConfigError as error:
        raise ConfigError(f"model.options: {error}") from None
    if config.model.activation_checkpointing:
        set_activation_checkpointing(model)
    return model


def build_feature_distance(config: ExperimentConfig, model: nn.Module) -> nn.Module | None:
    """A frozen copy of the freshly initialised encoder, or None (FD off, with a warning why)."""
    if not (config.task == "uda" and config.fd.enabled):
        return None
    if model.feature_distance_weights is None:
        warnings.warn(
            "fd.enabled is true but the encoder starts without ImageNet weights "
            "(model.options encoder_weights is null); the feature distance is off for this run",
            stacklevel=2,
        )
        return None
    things = config.fd.thing_classes
    if things is None:
        labelled = config.data.labelled
        things = list(dataset_info(labelled.kind, labelled.root).thing_classes)
    return FeatureDistance.from_encoder(
        model.encoder, thing_classes=things, ratio=config.fd.thing_ratio, weight=config.fd.weight
    )


def build_task(
    config: ExperimentConfig,
    *,
    model: nn.Module,
    raw_model: nn.Module,
    generator: torch.Generator,
    teacher: EMATeacher | None,
    feature_distance: nn.Module | None,
) -> SupervisedTask:
    """The task object of ``config.task`` around the (set-up) student ``model``."""
    classes = num_classes_of(config)
    if config.task == "supervised":
        return SupervisedTask(config, model, classes, generator)
    if teacher is None:
        raise ValueError(f"task '{config.task}' needs an EMA teacher")
    if config.task == "semi":
        return SemiSupervisedTask(
            config, model, classes, generator, raw_model=raw_model, teacher=teacher
        )
    return UDATask(
        config,
        model,
        classes,
        generator,
        raw_model=raw_model,
        teacher=teacher,
        feature_distance=feature_distance,
    )
