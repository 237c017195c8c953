"""Tiny models for the model tests (mit_b0 / resnet18 / tu-resnet10t, random init, 64x64)."""

import torch

from pixl.models import create_model

NUM_CLASSES = 5
SIZE = 64

# name, options: one tiny configuration per registered model (and a timm encoder).
# A 64-d embedding keeps the decoders cheap; the 256-d default is checked without a forward.
MIT = {"encoder": "mit_b0", "embed_dim": 64}
TINY = {
    "daformer": ("daformer", MIT),
    "daformer-timm": ("daformer", {"encoder": "tu-resnet10t", "embed_dim": 64}),
    "deeplabv3plus": ("deeplabv3plus", {"encoder": "resnet18", "embed_dim": 64}),
    "hrda": ("hrda", {"base_options": MIT, "attention_dim": 64}),
    "hrda-deeplab": (
        "hrda",
        {"base": "deeplabv3plus", "base_options": {"encoder": "resnet18"}, "attention_dim": 64},
    ),
}


def tiny_model(key: str, seed: int = 0, **extra) -> torch.nn.Module:
    torch.manual_seed(seed)
    name, options = TINY[key]
    return create_model(name, NUM_CLASSES, **{**options, **extra})
