"""DAFormer decoder (Hoyer et al. 2022) and the DAFormer segmentor on any smp/timm encoder.

Each encoder level is projected to ``embed_dim`` channels, upsampled to stride 4 and concatenated;
a context-aware fusion then mixes them: parallel 1x1 conv and depthwise-separable 3x3 convs with
dilations 6, 12, 18, concatenated and reduced by a 3x3 conv to the pixel embedding.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixl.models.base import Segmentor
from pixl.models.encoders import build_encoder
from pixl.models.registry import register_model

ASPP_DILATIONS = (6, 12, 18)


def conv_bn_relu(
    in_ch: int, out_ch: int, kernel: int = 1, dilation: int = 1, groups: int = 1
) -> nn.Sequential:
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(
            in_ch, out_ch, kernel, padding=padding, dilation=dilation, groups=groups, bias=False
        ),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def separable_conv(in_ch: int, out_ch: int, dilation: int) -> nn.Sequential:
    """Depthwise 3x3 (dilated) then pointwise 1x1, each followed by BN and ReLU."""
    return nn.Sequential(
        conv_bn_relu(in_ch, in_ch, 3, dilation=dilation, groups=in_ch),
        conv_bn_relu(in_ch, out_ch, 1),
    )


class ContextFusion(nn.Module):
    """ASPP-like fusion without image pooling: 1x1 + separable dilated 3x3 branches, then 3x3."""

    def __init__(self, in_ch: int, out_ch: int, dilations: tuple[int, ...] = ASPP_DILATIONS):
        super().__init__()
        branches = [conv_bn_relu(in_ch, out_ch, 1)]
        branches += [separable_conv(in_ch, out_ch, d) for d in dilations]
        self.branches = nn.ModuleList(branches)
        self.bottleneck = conv_bn_relu(out_ch * len(branches), out_ch, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.bottleneck(torch.cat([branch(x) for branch in self.branches], dim=1))


class DAFormerDecoder(nn.Module):
    """Four encoder levels -> pixel embedding at the resolution of the first level.

    fusion: ``"aspp"`` (the DAFormer head) or ``"conv"`` (a 1x1 conv, the light head HRDA's
    scale attention uses).
    Shape: levels [B, c_i, H/s_i, W/s_i] -> [B, embed_dim, H/s_0, W/s_0].
    """

    def __init__(self, in_channels: list[int], embed_dim: int = 256, fusion: str = "aspp"):
        super().__init__()
        # A 1x1 conv is the per-pixel linear projection ("MLP" embedding) of the paper.
        self.projections = nn.ModuleList(nn.Conv2d(c, embed_dim, 1) for c in in_channels)
        fused_in = embed_dim * len(in_channels)
        if fusion == "aspp":
            self.fusion: nn.Module = ContextFusion(fused_in, embed_dim)
        elif fusion == "conv":
            self.fusion = conv_bn_relu(fused_in, embed_dim, 1)
        else:
            raise ValueError(f"fusion must be 'aspp' or 'conv', got {fusion!r}")

    def forward(self, levels: list[Tensor]) -> Tensor:
        size = levels[0].shape[-2:]
        projected = [
            F.interpolate(proj(x), size=size, mode="bilinear", align_corners=False)
            if x.shape[-2:] != size
            else proj(x)
            for proj, x in zip(self.projections, levels, strict=True)
        ]
        return self.fusion(torch.cat(projected, dim=1))


class DAFormer(Segmentor):
    """Encoder (MiT-B5 in the paper; any smp/timm encoder) + DAFormer decoder."""

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
        self.decoder = DAFormerDecoder(self.encoder_channels, embed_dim)


@register_model("daformer", single_scale=True)
def build_daformer(
    num_classes: int,
    *,
    encoder: str = "mit_b5",
    encoder_weights: str | Path | None = None,
    embed_dim: int = 256,
    dropout: float = 0.1,
) -> DAFormer:
    return DAFormer(
        build_encoder(encoder, encoder_weights),
        num_classes,
        embed_dim,
        dropout,
        encoder_weights=encoder_weights,
    )
