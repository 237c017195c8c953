"""Model registry: ``@register_model`` beside each builder; ``create_model(name, num_classes,
**options)``, ``list_models()`` and ``model_options(name)`` read it.

Each model module registers its builder where it defines it (as timm's ``@register_model``), so
this module imports no model; importing ``pixl.models`` imports every built-in model module and
so registers them all.

    @register_model("daformer", single_scale=True)      models/daformer.py
    def build_daformer(num_classes, *, encoder=..., ...) -> DAFormer
               |
               v
    _REGISTRY {name: ModelEntry(builder, single_scale)}
               |
    create_model(name, num_classes, **options)  -- unknown name/option: ConfigError
               |
               v
    a SegmentationModel (models/contract.py), checked before it is returned
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from torch import nn

from pixl.errors import ConfigError
from pixl.models.contract import SegmentationModel, satisfies


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its builder ``(num_classes, *, **options) -> model`` and whether it
    is single-scale (a segmentor HRDA can wrap)."""

    name: str
    builder: Callable[..., nn.Module]
    single_scale: bool


_REGISTRY: dict[str, ModelEntry] = {}
Builder = TypeVar("Builder", bound=Callable[..., nn.Module])


def register_model(name: str, *, single_scale: bool = False) -> Callable[[Builder], Builder]:
    """Register the decorated builder under ``name``; its keyword-only parameters are the
    model's options (``model_options``). The builder is returned unchanged."""

    def add(builder: Builder) -> Builder:
        if name in _REGISTRY:  # two modules claiming one name is a programming error
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelEntry(name, builder, single_scale)
        return builder

    return add


def list_models(*, single_scale: bool = False) -> list[str]:
    """The registered names, sorted (``single_scale=True``: only those HRDA can wrap)."""
    return sorted(n for n, e in _REGISTRY.items() if e.single_scale or not single_scale)


def model_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise ConfigError(f"model: unknown name {name!r}; expected one of {list_models()}")
    return _REGISTRY[name]


def model_options(name: str) -> dict[str, Any]:
    """The options ``name`` accepts, with their defaults."""
    return {
        p.name: p.default
        for p in inspect.signature(model_entry(name).builder).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def create_model(name: str, num_classes: int, **options: Any) -> SegmentationModel:
    """Build a registered model: a ``SegmentationModel`` (``forward`` -> ``SegmentationOutput``,
    ``forward_train`` -> ``TrainOutput``, ``num_classes``, ``feature_dim``, ``size_divisor``,
    ``encoder``)."""
    entry = model_entry(name)
    valid = model_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(
            f"model {name!r}: unknown option(s) {unknown}; valid options: {sorted(valid)}"
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(
            f"model {name!r}: num_classes must be a positive integer, got {num_classes!r}"
        )
    model = entry.builder(num_classes, **options)
    if not satisfies(model, SegmentationModel):  # a registration bug, not a user's
        raise TypeError(f"model {name!r}: {type(model).__name__} breaks the model contract")
    return model


def without_starting_weights(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with every ``encoder_weights`` (HRDA: inside ``base_options``) set to None:
    the model to load trained weights into, built without a hub download or a weights file."""
    return {
        key: None
        if key == "encoder_weights"
        else without_starting_weights(value)
        if isinstance(value, Mapping)
        else value
        for key, value in options.items()
    }


def set_activation_checkpointing(model: nn.Module) -> int:
    """Turn on activation checkpointing in a registered model (``pixl.models.checkpointing``);
    returns how many modules are recomputed in backward."""
    if not satisfies(model, SegmentationModel):
        raise ConfigError(
            f"model.activation_checkpointing: {type(model).__name__} does not support it "
            f"(expected one of {list_models()})"
        )
    return model.enable_activation_checkpointing()
