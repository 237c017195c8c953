"""The segmentor base: encoder levels -> decoder -> (logits, pixel features), one output type."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from pixl.models.checkpointing import checkpoint_encoders_and_decoders
from pixl.models.contract import ModelBase
from pixl.models.encoders import encode_levels, level_channels
from pixl.models.types import SegmentationOutput, TrainOutput


class Segmentor(ModelBase):
    """Encoder + decoder + 1x1 classifier at stride 4: a single-scale ``SegmentationModel``.

    Subclasses build ``self.decoder`` (levels -> embedding [B, D, H/4, W/4]) and may raise
    ``size_divisor``; this class owns the classifier, the forward and the training pass.
    ``encoder_weights`` names the weights the encoder started from (None: random init).
    """

    encoder: nn.Module
    decoder: nn.Module

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        feature_dim: int,
        dropout: float,
        *,
        encoder_weights: str | Path | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.encoder_weights = encoder_weights
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.encoder_channels = level_channels(encoder)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Conv2d(feature_dim, num_classes, kernel_size=1)

    def extract(self, images: Tensor) -> list[Tensor]:
        """Shape: [B, 3, H, W] -> four maps at strides 4, 8, 16, 32.

        Every pass goes through here (HRDA's context and detail branches too), so the input
        check sits here once."""
        self.check_input(images)
        return encode_levels(self.encoder, images)

    def embed(self, levels: list[Tensor]) -> Tensor:
        """Shape: four encoder maps -> [B, D, H/4, W/4] pixel embedding."""
        return self.decoder(levels)

    def decode(self, levels: list[Tensor]) -> SegmentationOutput:
        features = self.embed(levels)
        logits = self.classifier(self.dropout(features))
        return SegmentationOutput(logits=logits, features=features, deep_features=levels[-1])

    def forward(self, images: Tensor) -> SegmentationOutput:
        return self.decode(self.extract(images))

    def forward_train(self, images: Tensor, generator: torch.Generator) -> TrainOutput:
        """The training pass: one resolution, nothing drawn from ``generator``.

        Shape: images [B, 3, H, W] -> logits [B, C, H/4, W/4].
        """
        out = self(images)
        return TrainOutput(logits=out.logits, low=out, low_images=images)

    @property
    def feature_distance_weights(self) -> str | Path | None:
        """The encoder weights the ImageNet feature distance compares against (None: no FD)."""
        return self.encoder_weights

    def enable_activation_checkpointing(self) -> int:
        """Recompute each encoder block and the decoder in backward (``pixl.models.checkpointing``);
        returns how many modules are checkpointed."""
        return checkpoint_encoders_and_decoders([self.encoder], [self.decoder])
