"""Model registry: ``create_model(name, num_classes, **options)`` and ``list_models()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from pixl.errors import ConfigError
from pixl.models.base import Segmentor
from pixl.models.daformer import build_daformer
from pixl.models.deeplab import build_deeplabv3plus
from pixl.models.hrda import HRDA


def build_hrda(
    num_classes: int,
    *,
    base: str = "daformer",
    base_options: Mapping[str, Any] | None = None,
    scale: float = 0.5,
    detail_crop: float = 0.5,
    attention_dim: int = 256,
) -> HRDA:
    """HRDA around a single-scale segmentor (``base`` with ``base_options``)."""
    if base not in _SINGLE_SCALE:
        raise ConfigError(f"hrda.base: expected one of {sorted(_SINGLE_SCALE)}, got {base!r}")
    if not 0 < scale <= 1:
        raise ConfigError(f"hrda.scale: expected a factor in (0, 1], got {scale}")
    if not 0 < detail_crop <= 1:
        raise ConfigError(f"hrda.detail_crop: expected a fraction in (0, 1], got {detail_crop}")
    segmentor = create_model(base, num_classes, **dict(base_options or {}))
    assert isinstance(segmentor, Segmentor)
    return HRDA(segmentor, scale=scale, detail_crop=detail_crop, attention_dim=attention_dim)


_SINGLE_SCALE: dict[str, Callable[..., nn.Module]] = {
    "daformer": build_daformer,
    "deeplabv3plus": build_deeplabv3plus,
}
_MODELS: dict[str, Callable[..., nn.Module]] = {**_SINGLE_SCALE, "hrda": build_hrda}


def list_models() -> list[str]:
    return sorted(_MODELS)


def model_options(name: str) -> dict[str, Any]:
    """The options ``name`` accepts, with their defaults."""
    builder = _builder(name)
    return {
        p.name: p.default
        for p in inspect.signature(builder).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _builder(name: str) -> Callable[..., nn.Module]:
    if name not in _MODELS:
        raise ConfigError(f"model: unknown name {name!r}; expected one of {list_models()}")
    return _MODELS[name]


def create_model(name: str, num_classes: int, **options: Any) -> nn.Module:
    """Build a registered model. Every model returns ``SegmentationOutput`` from ``forward`` and
    has ``num_classes``, ``feature_dim`` and ``encoder``."""
    builder = _builder(name)
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
    return builder(num_classes, **options)


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
    if not isinstance(model, Segmentor | HRDA):
        raise ConfigError(
            f"model.activation_checkpointing: {type(model).__name__} does not support it "
            f"(expected one of {list_models()})"
        )
    return model.enable_activation_checkpointing()
