"""The optional PiXL projection head (``pixl.projection: head``): the pixel embedding PiXL aligns
is a learned projection of the decoder embedding, as in SePiCo and Wang et al. ("Exploring
Cross-Image Pixel Contrast"), not the embedding the classifier reads.

The head is a model part (``WithProjection``), so it sits inside the module DDP wraps, in the
optimiser's head group (it is not ``encoder``) and in every checkpoint and export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from pixl.models.contract import ModelBase, SegmentationModel
from pixl.models.types import SegmentationOutput, TrainOutput

HEAD_PREFIX = "projection."
MODEL_PREFIX = "model."


class ProjectionHead(nn.Sequential):
    """1x1 conv (D -> D), BatchNorm, ReLU, 1x1 conv (D -> ``out_dim``); a linear output (the loss
    L2-normalises). SePiCo's / Wang et al.'s ``ProjectionHead`` ("convmlp").

    Shape: [B, D, h, w] -> [B, out_dim, h, w]
    """

    def __init__(self, in_dim: int, out_dim: int = 256) -> None:
        super().__init__(
            nn.Conv2d(in_dim, in_dim, kernel_size=1),
            nn.BatchNorm2d(in_dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_dim, out_dim, kernel_size=1),
        )


def project(output: SegmentationOutput, head: nn.Module) -> SegmentationOutput:
    """``output`` with its features replaced by ``head(features)``; logits (from the classifier on
    the decoder embedding) and deep features unchanged."""
    return dataclasses.replace(output, features=head(output.features))


class WithProjection(ModelBase):
    """A ``SegmentationModel`` whose ``features`` are the projection head's output.

    Every pass the model returns is projected: ``forward`` (HRDA: the slid detail embedding) and
    ``forward_train``'s ``low`` and ``high`` (HRDA: the context and the detail pass, each through
    the same head). Logits, CE and the entropies PiXL splits pixels by still come from the
    classifier on the decoder embedding. Readers of ``features`` (PiXL, the embedding figures)
    see the projected embedding.
    """

    def __init__(self, model: SegmentationModel, head: nn.Module, out_dim: int) -> None:
        super().__init__()
        self.model = model
        self.projection = head
        self.num_classes = model.num_classes
        self.feature_dim = out_dim
        self.size_divisor = model.size_divisor

    @property
    def encoder(self) -> nn.Module:
        return self.model.encoder

    @property
    def feature_distance_weights(self) -> str | Path | None:
        return self.model.feature_distance_weights

    def enable_activation_checkpointing(self) -> int:
        return self.model.enable_activation_checkpointing()

    def forward(self, images: Tensor) -> SegmentationOutput:
        return project(self.model(images), self.projection)

    def forward_train(self, images: Tensor, generator: torch.Generator) -> TrainOutput:
        out = self.model.forward_train(images, generator)
        high = None if out.high is None else project(out.high, self.projection)
        return dataclasses.replace(out, low=project(out.low, self.projection), high=high)


def with_projection(model: SegmentationModel, out_dim: int = 256) -> WithProjection:
    """``model`` with a fresh projection head from its ``feature_dim`` to ``out_dim``."""
    return WithProjection(model, ProjectionHead(model.feature_dim, out_dim), out_dim)


def warm_start_state(state: Mapping[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """The state to warm-start ``model`` from: unchanged, except that a model with a projection
    head takes a file of the bare model (trained without a head, e.g. a source-only stage) into
    its inner model and keeps its own fresh head."""
    if not isinstance(model, WithProjection):
        return dict(state)
    if any(k.startswith(HEAD_PREFIX) or k.startswith(MODEL_PREFIX) for k in state):
        return dict(state)
    own_head = {HEAD_PREFIX + k: v for k, v in model.projection.state_dict().items()}
    return {**{MODEL_PREFIX + k: v for k, v in state.items()}, **own_head}
