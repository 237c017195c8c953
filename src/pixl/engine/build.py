"""Building a run's pieces from its config: model, loss terms, task."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import nn

from pixl.config import ExperimentConfig
from pixl.data import DatasetInfo, dataset_info
from pixl.engine.tasks import SelfTraining, Task
from pixl.engine.teacher import EMATeacher
from pixl.engine.terms import LossTerm, TermContext, build_terms
from pixl.errors import ConfigError
from pixl.models import (
    create_model,
    set_activation_checkpointing,
    with_projection,
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
    no hub or weights file is needed). ``pixl.projection: head`` wraps the model with its
    projection head (``pixl.models.WithProjection``), so checkpoints of such a run load into the
    model built from their saved config."""
    options = config.model.options if pretrained else without_starting_weights(config.model.options)
    classes = num_classes_of(config) if num_classes is None else num_classes
    try:
        model = create_model(config.model.name, classes, **options)
    except ConfigError as error:
        raise ConfigError(f"model.options: {error}") from None
    if config.model.activation_checkpointing:
        set_activation_checkpointing(model)
    if config.pixl.projection == "head":
        # Built after the model, so the model's own initial weights are those without a head.
        model = with_projection(model, config.pixl.projection_dim)
    return model


def build_task(
    config: ExperimentConfig,
    *,
    model: nn.Module,
    raw_model: nn.Module,
    generator: torch.Generator,
    teacher: EMATeacher | None,
    terms: Sequence[LossTerm] | None = None,
) -> Task:
    """The task of ``config.task`` around the (set-up) student ``model``: its loss terms
    (default: built here from the config, ``build_terms``) and, for self-training, the teacher."""
    if terms is None:
        terms = build_terms(term_context(config, raw_model))
    self_training = None
    if config.task != "supervised":
        if teacher is None:
            raise ValueError(f"task '{config.task}' needs an EMA teacher")
        self_training = SelfTraining(config.self_training, teacher, raw_model, generator)
    return Task(model, generator, terms, self_training)


def term_context(
    config: ExperimentConfig,
    raw_model: nn.Module,
    to_device: Callable[[nn.Module], nn.Module] | None = None,
) -> TermContext:
    """What the term builders read: ``raw_model`` with its initial weights (before a warm start)."""
    return TermContext(
        config=config,
        num_classes=num_classes_of(config),
        model=raw_model,
        mixed=config.task != "supervised",
        to_device=to_device or _unmoved,
    )


def _unmoved(module: nn.Module) -> nn.Module:
    return module
