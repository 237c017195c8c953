"""The model contract in code: what the engine and the evaluation use of a model, and the base
class of every registered model (docs/design.md, "Contracts: model, task, callback, dataset kind").

Two protocols, because the two callers need different amounts: evaluation only predicts
(``Predictor``; a test double that predicts satisfies it), the engine trains (``SegmentationModel``,
which every model ``create_model`` builds satisfies). ``ModelBase`` holds what the models share:
the default ``size_divisor`` and the one input-shape check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from pixl.models.types import SegmentationOutput, TrainOutput


@runtime_checkable
class Predictor(Protocol):
    """What inference and evaluation use: ``model(images) -> SegmentationOutput``.

    num_classes: the classes it predicts (checked against the data before evaluating).
    size_divisor: input sides must be multiples of this (inference pads to it; 1: any size).
    """

    num_classes: int
    size_divisor: int

    def __call__(self, images: Tensor) -> SegmentationOutput: ...


@runtime_checkable
class SegmentationModel(Predictor, Protocol):
    """What the engine uses; every registered model satisfies it, HRDA included.

    feature_dim: D of the pixel embedding ``features`` [B, D, H/4, W/4] (what PiXL aligns).
    encoder: the backbone; its parameters are the optimiser's ``lr`` groups, every other one
        is a head parameter at ``lr * head_lr_mult`` (``pixl.models.param_groups``), and the
        feature distance copies it.
    feature_distance_weights: the weights the encoder started from (None: random, no FD).
    forward_train(images, generator) -> TrainOutput: the training pass; whatever the model
        draws (HRDA: its detail box) comes from ``generator``.
    enable_activation_checkpointing() -> how many modules are recomputed in backward.
    """

    feature_dim: int

    @property
    def encoder(self) -> nn.Module: ...

    @property
    def feature_distance_weights(self) -> str | Path | None: ...

    def forward_train(self, images: Tensor, generator: torch.Generator) -> TrainOutput: ...

    def enable_activation_checkpointing(self) -> int: ...


def protocol_members(protocol: type) -> set[str]:
    """The public attributes and methods a protocol asks for (``__call__`` aside)."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if getattr(klass, "_is_protocol", False) and klass is not Protocol:
            names |= set(getattr(klass, "__annotations__", {}))
            names |= {name for name in vars(klass) if not name.startswith("_")}
    return names


def satisfies(obj: object, protocol: type) -> bool:
    """``isinstance(obj, protocol)`` as Python 3.11 answers it, on every Python we support.

    From 3.12, ``isinstance`` on a runtime protocol looks attributes up statically, so it misses
    what ``nn.Module`` keeps in ``_modules`` / ``_parameters`` (the ``encoder``); ``hasattr`` sees
    them.
    """
    return callable(obj) and all(hasattr(obj, name) for name in protocol_members(protocol))


class ModelBase(nn.Module):
    """The base of every registered model: the contract's attributes and one input check.

    Holds no parameters and draws no random numbers, so deriving from it leaves a model's
    initial weights as they were.
    """

    num_classes: int
    feature_dim: int
    size_divisor: int = 1
    """Input sides must be multiples of this (inference pads to it; 1: any size)."""

    def check_input(self, images: Tensor) -> None:
        """Raise ``ValueError`` unless ``images`` is [B, 3, H, W] with sides divisible by
        ``size_divisor`` (as smp checks once in its base, not in each model)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"{type(self).__name__}: expected images [B, 3, H, W], got {tuple(images.shape)}"
            )
        height, width = images.shape[-2:]
        if height % self.size_divisor or width % self.size_divisor:
            raise ValueError(
                f"{type(self).__name__} inputs need sides divisible by {self.size_divisor}, "
                f"got {height}x{width}"
            )
