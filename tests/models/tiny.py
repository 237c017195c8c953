"""Tiny models for the model tests (mit_b0 / resnet18 / tu-resnet10t, random init, 64x64).

``TINY`` holds one tiny configuration per registered model, keyed by its registry name, and
variants (``name-variant``: another encoder or base). The contract tests run on every key and on
every registered name (``contract_cases``), so a new model is tested by registering it and adding
its entry here; a registered name without one fails those tests, naming what to add.
"""

import pytest
import torch

from pixl.models import SegmentationModel, create_model, list_models

NUM_CLASSES = 5
SIZE = 64

# A 64-d embedding keeps the decoders cheap; the 256-d default is checked without a forward.
MIT = {"encoder": "mit_b0", "embed_dim": 64}
TINY: dict[str, tuple[str, dict]] = {
    "daformer": ("daformer", MIT),
    "daformer-timm": ("daformer", {"encoder": "tu-resnet10t", "embed_dim": 64}),
    "deeplabv3plus": ("deeplabv3plus", {"encoder": "resnet18", "embed_dim": 64}),
    "hrda": ("hrda", {"base_options": MIT, "attention_dim": 64}),
    "hrda-deeplab": (
        "hrda",
        {"base": "deeplabv3plus", "base_options": {"encoder": "resnet18"}, "attention_dim": 64},
    ),
}


def contract_cases() -> list[str]:
    """Every ``TINY`` key and every registered model name (sorted)."""
    return sorted(set(TINY) | set(list_models()))


def tiny_model(key: str, seed: int = 0, **extra) -> SegmentationModel:
    if key not in TINY:
        pytest.fail(
            f"model {key!r} is registered but has no tiny options: add "
            f'"{key}": ("{key}", {{...}}) to TINY in tests/models/tiny.py'
        )
    torch.manual_seed(seed)
    name, options = TINY[key]
    return create_model(name, NUM_CLASSES, **{**options, **extra})
