"""DeepLabV3+ (ResNet-101 by default): smp's decoder, our classifier at stride 4."""

from __future__ import annotations

from pathlib import Path

from segmentation_models_pytorch.decoders.deeplabv3.decoder import DeepLabV3PlusDecoder
from torch import Tensor, nn

from pixl.models.base import Segmentor
from pixl.models.encoders import build_encoder
from pixl.models.registry import register_model


class DeepLabV3Plus(Segmentor):
    """Dilated encoder (output stride 16) + ASPP + stride-4 skip; the 256-d decoder output is the
    pixel embedding."""

    size_divisor = 16  # the decoder upsamples stride 16 to stride 4 by exactly 4

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        embed_dim: int = 256,
        dropout: float = 0.1,
        *,
        encoder_weights: str | Path | None = None,
    ):
        super().__init__(encoder, num_classes, embed_dim, dropout, encoder_weights=encoder_weights)
        self.decoder = DeepLabV3PlusDecoder(
            encoder_channels=encoder.out_channels,
            encoder_depth=5,
            out_channels=embed_dim,
            atrous_rates=(12, 24, 36),
            output_stride=16,
            aspp_separable=True,
            aspp_dropout=0.5,
        )

    def embed(self, levels: list[Tensor]) -> Tensor:
        # smp's decoder indexes the full 6-map list: [2] is stride 4, [-1] the deepest map.
        return self.decoder([levels[0], levels[0], *levels])


@register_model("deeplabv3plus", single_scale=True)
def build_deeplabv3plus(
    num_classes: int,
    *,
    encoder: str = "resnet101",
    encoder_weights: str | Path | None = None,
    embed_dim: int = 256,
    dropout: float = 0.1,
) -> DeepLabV3Plus:
    return DeepLabV3Plus(
        build_encoder(encoder, encoder_weights, output_stride=16),
        num_classes,
        embed_dim,
        dropout,
        encoder_weights=encoder_weights,
    )
