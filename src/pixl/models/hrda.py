"""HRDA multi-resolution training (Hoyer et al. 2022): a downscaled context crop, a full-resolution
detail crop, and a learned per-class scale attention that fuses them.

``forward_train(images, generator)`` draws one detail box per batch from ``generator``
(``sample_detail_box``) and runs ``forward_box``; nothing about the box is kept on the module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixl.errors import ConfigError
from pixl.models.base import Segmentor
from pixl.models.checkpointing import checkpoint_module
from pixl.models.contract import ModelBase
from pixl.models.daformer import DAFormerDecoder
from pixl.models.registry import create_model, list_models, register_model
from pixl.models.types import Box, HRDAOutput, SegmentationOutput, TrainOutput

STRIDE = 4  # output stride of every base segmentor
DETAIL_DIVISOR = 8  # detail-box corners and sides are multiples of 8 input pixels


def detail_size(
    height: int, width: int, fraction: float = 0.5, divisor: int = 8
) -> tuple[int, int]:
    """Side lengths of the detail crop: ``fraction`` of the image, rounded down to ``divisor``."""
    return (
        max(divisor, int(height * fraction) // divisor * divisor),
        max(divisor, int(width * fraction) // divisor * divisor),
    )


def sample_detail_box(
    height: int,
    width: int,
    *,
    fraction: float = 0.5,
    divisor: int = 8,
    generator: torch.Generator | None = None,
) -> Box:
    """A random detail crop whose corner and size are multiples of ``divisor`` (one per batch)."""
    crop_h, crop_w = detail_size(height, width, fraction, divisor)
    rows = max(height - crop_h, 0) // divisor + 1
    cols = max(width - crop_w, 0) // divisor + 1
    top = int(torch.randint(rows, (1,), generator=generator)) * divisor
    left = int(torch.randint(cols, (1,), generator=generator)) * divisor
    return Box(top=top, left=left, height=min(crop_h, height), width=min(crop_w, width))


def crop(images: Tensor, box: Box) -> Tensor:
    """Shape: [B, C, H, W] -> [B, C, box.height, box.width]."""
    return box.crop(images)


def box_mask(box: Box, size: tuple[int, int], stride: int, like: Tensor) -> Tensor:
    """1 inside ``box`` (given in input pixels) on a grid of the given stride, 0 elsewhere.

    Shape: -> [1, 1, *size].
    """
    mask = like.new_zeros((1, 1, *size))
    mask[..., box.top // stride : (box.top + box.height) // stride,
         box.left // stride : (box.left + box.width) // stride] = 1  # fmt: skip
    return mask


def fuse_scales(
    context_logits: Tensor,
    detail_logits: Tensor,
    attention: Tensor,
    box: Box,
    size: tuple[int, int],
) -> tuple[Tensor, Tensor]:
    """``fused = att * detail (inserted at box) + (1 - att) * context (upsampled)``, att = 0 off box.

    attention holds probabilities on the context grid; it is upsampled, then masked, so it is
    exactly zero outside the box and the fused logits equal the upsampled context there.
    Shape: context [B, C, h, w], detail [B, C, box/4], attention [B, C, h, w], size = (H/4, W/4)
    -> (fused [B, C, *size], attention [B, C, *size]).
    """
    if box.top % STRIDE or box.left % STRIDE or box.height % STRIDE or box.width % STRIDE:
        raise ValueError(f"detail box {box} must lie on the stride-{STRIDE} grid")
    up_context = F.interpolate(context_logits, size=size, mode="bilinear", align_corners=False)
    att = F.interpolate(attention, size=size, mode="bilinear", align_corners=False)
    att = att * box_mask(box, size, STRIDE, att)
    inserted = torch.zeros_like(up_context)
    rows = slice(box.top // STRIDE, (box.top + box.height) // STRIDE)
    cols = slice(box.left // STRIDE, (box.left + box.width) // STRIDE)
    inserted[..., rows, cols] = detail_logits
    return att * inserted + (1 - att) * up_context, att


def window_starts(length: int, window: int, step: int) -> list[int]:
    """Start offsets of sliding windows covering ``length`` (the last one flush with the end)."""
    if window >= length:
        return [0]
    count = (length - window + step - 1) // step + 1
    return sorted({min(i * step, length - window) for i in range(count)})


def hrda_size_divisor(base_divisor: int, scale: float) -> int:
    """HRDA's input multiple: 8 (detail windows on the stride grid), the base's multiple in the
    detail windows, and at the context scale (``base_divisor / scale`` when that is whole)."""
    multiple = math.lcm(8, base_divisor)
    context = base_divisor / scale
    if context.is_integer():
        multiple = math.lcm(multiple, int(context))
    return multiple


class HRDA(ModelBase):
    """Multi-resolution wrapper around a base segmentor sharing one encoder and decoder.

    ``forward(images)`` is inference: context on the downscaled image, detail slid over the full
    image (window = ``detail_crop`` of the input, stride half of it), fused with unmasked attention.
    ``forward_train(images, generator)`` is the training pass on one crop: it draws the detail box
    from ``generator``; ``forward_box(images, box)`` is that pass for a given box.
    ``scale`` and ``detail_crop`` are checked once, by ``check_hrda_options`` (``build_hrda``).
    """

    def __init__(
        self,
        base: Segmentor,
        *,
        scale: float = 0.5,
        detail_crop: float = 0.5,
        attention_dim: int = 256,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.base = base
        self.scale = scale
        self.detail_crop = detail_crop
        self.num_classes = base.num_classes
        self.feature_dim = base.feature_dim
        self.size_divisor = hrda_size_divisor(base.size_divisor, scale)
        # A light DAFormer-like head on the context features: one sigmoid channel per class.
        self.attention_decoder = DAFormerDecoder(
            base.encoder_channels, attention_dim, fusion="conv"
        )
        self.attention_classifier = nn.Sequential(
            nn.Dropout2d(dropout), nn.Conv2d(attention_dim, base.num_classes, 1)
        )

    @property
    def encoder(self) -> nn.Module:
        return self.base.encoder

    @property
    def feature_distance_weights(self) -> str | Path | None:
        """The shared encoder's initial weights (the base segmentor's): what FD compares against."""
        return self.base.feature_distance_weights

    def enable_activation_checkpointing(self) -> int:
        """The shared segmentor's encoder blocks and decoder, and the scale attention's decoder,
        recomputed in backward (``pixl.models.checkpointing``); returns how many modules."""
        checkpoint_module(self.attention_decoder)
        return self.base.enable_activation_checkpointing() + 1

    def context_input(self, images: Tensor) -> Tensor:
        """Shape: [B, 3, H, W] -> [B, 3, H*scale, W*scale] (bilinear)."""
        if self.scale == 1:
            return images
        return F.interpolate(images, scale_factor=self.scale, mode="bilinear", align_corners=False)

    def _context(self, images: Tensor) -> tuple[SegmentationOutput, Tensor]:
        levels = self.base.extract(self.context_input(images))
        attention = torch.sigmoid(self.attention_classifier(self.attention_decoder(levels)))
        return self.base.decode(levels), attention

    def forward_train(self, images: Tensor, generator: torch.Generator) -> TrainOutput:
        """One detail box for the batch from ``generator`` (its side ``detail_crop`` of the crop,
        corners on a grid of 8 pixels), then the context + detail pass on it.

        Shape: images [B, 3, H, W] -> logits [B, C, H/4, W/4].
        """
        height, width = images.shape[-2:]
        box = sample_detail_box(
            height, width, fraction=self.detail_crop, divisor=DETAIL_DIVISOR, generator=generator
        )
        out = self.forward_box(images, box)
        return TrainOutput(
            logits=out.fused_logits,
            low=out.context,
            low_images=self.context_input(images),
            high=out.detail,
            box=box,
        )

    def forward_box(self, images: Tensor, box: Box) -> HRDAOutput:
        """The training pass on the given detail ``box``.

        Shape: images [B, 3, H, W] -> fused logits [B, C, H/4, W/4].
        """
        height, width = images.shape[-2:]
        if (
            min(box.top, box.left) < 0
            or box.top + box.height > height
            or box.left + box.width > width
        ):
            raise ValueError(f"detail box {box} exceeds the {height}x{width} input")
        context, attention = self._context(images)
        detail = self.base(crop(images, box))
        size = (height // STRIDE, width // STRIDE)
        fused, att = fuse_scales(context.logits, detail.logits, attention, box, size)
        return HRDAOutput(
            fused_logits=fused, context=context, detail=detail, attention=att, box=box
        )

    def forward(self, images: Tensor) -> SegmentationOutput:
        self.check_input(images)
        height, width = images.shape[-2:]
        context, attention = self._context(images)
        detail = self.slide_detail(images)
        size = (height // STRIDE, width // STRIDE)
        whole = Box(0, 0, size[0] * STRIDE, size[1] * STRIDE)
        fused, _ = fuse_scales(context.logits, detail.logits, attention, whole, size)
        return SegmentationOutput(fused, detail.features, deep_features=context.deep_features)

    def slide_detail(self, images: Tensor) -> SegmentationOutput:
        """The detail branch over the whole image in overlapping windows, averaged on overlaps.

        Shape: [B, 3, H, W] -> logits [B, C, H/4, W/4], features [B, D, H/4, W/4].
        """
        height, width = images.shape[-2:]
        win_h, win_w = detail_size(
            height, width, self.detail_crop, divisor=math.lcm(8, self.base.size_divisor)
        )
        boxes = [
            Box(top, left, min(win_h, height), min(win_w, width))
            for top in window_starts(height, win_h, max(win_h // 2, STRIDE) // STRIDE * STRIDE)
            for left in window_starts(width, win_w, max(win_w // 2, STRIDE) // STRIDE * STRIDE)
        ]
        # All windows of all images in one batch (HRDA does the same).
        outputs = self.base(torch.cat([crop(images, b) for b in boxes], dim=0))
        batch = images.shape[0]
        size = (height // STRIDE, width // STRIDE)
        logits = outputs.logits.new_zeros((batch, self.num_classes, *size))
        features = outputs.features.new_zeros((batch, self.feature_dim, *size))
        count = logits.new_zeros((1, 1, *size))
        for i, b in enumerate(boxes):
            rows = slice(b.top // STRIDE, b.top // STRIDE + outputs.logits.shape[-2])
            cols = slice(b.left // STRIDE, b.left // STRIDE + outputs.logits.shape[-1])
            logits[..., rows, cols] += outputs.logits[i * batch : (i + 1) * batch]
            features[..., rows, cols] += outputs.features[i * batch : (i + 1) * batch]
            count[..., rows, cols] += 1
        return SegmentationOutput(logits / count, features / count)


def check_hrda_options(base: str, scale: float, detail_crop: float) -> None:
    """The one check of HRDA's own options (``ConfigError``, before anything is built)."""
    single_scale = list_models(single_scale=True)
    if base not in single_scale:
        raise ConfigError(f"hrda.base: expected one of {single_scale}, got {base!r}")
    if not 0 < scale <= 1:
        raise ConfigError(f"hrda.scale: expected a factor in (0, 1], got {scale}")
    if not 0 < detail_crop <= 1:
        raise ConfigError(f"hrda.detail_crop: expected a fraction in (0, 1], got {detail_crop}")


@register_model("hrda")
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
    check_hrda_options(base, scale, detail_crop)
    segmentor = create_model(base, num_classes, **dict(base_options or {}))
    if not isinstance(segmentor, Segmentor):  # single_scale registrations build Segmentors
        raise TypeError(f"hrda.base {base!r} built a {type(segmentor).__name__}, not a Segmentor")
    return HRDA(segmentor, scale=scale, detail_crop=detail_crop, attention_dim=attention_dim)
