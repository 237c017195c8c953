"""The typed outputs every model returns (one type per kind of forward, never a flag)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class Box:
    """A detail crop in input-pixel coordinates: rows [top, top+height), cols [left, left+width)."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, values: Tensor) -> Tensor:
        """The box's window of the last two dimensions.

        Shape: [..., H, W] -> [..., box.height, box.width].
        """
        return values[..., self.top : self.top + self.height, self.left : self.left + self.width]


@dataclass
class SegmentationOutput:
    """What every segmentor's ``forward(images)`` returns.

    logits:   [B, C, H/4, W/4] class scores at the feature stride (upsample for full-size predictions).
    features: [B, D, H/4, W/4] the pixel embedding right before the classifier.
    deep_features: [B, E, H/32, W/32] the last encoder stage (H/16 for DeepLab's dilated encoder),
        what ImageNet feature distance compares.
        Every pixl segmentor fills it; the default only keeps hand-built outputs (test doubles) short.
    """

    logits: Tensor
    features: Tensor
    deep_features: Tensor | None = None


@dataclass
class HRDAOutput:
    """What ``HRDA.forward_box(images, box)`` returns (``forward_train`` draws the box first).

    fused_logits: [B, C, H/4, W/4] attention-weighted mix of the detail and the upsampled context.
    context: output of the base segmentor on the whole crop downscaled by ``scale`` (H*s/4 grid).
    detail:  output of the base segmentor on the full-resolution sub-crop ``box`` (box/4 grid).
    attention: [B, C, H/4, W/4] scale attention in [0, 1]; exactly zero outside ``box``.
    box: the detail crop used for this pass (input-pixel coordinates).
    """

    fused_logits: Tensor
    context: SegmentationOutput
    detail: SegmentationOutput
    attention: Tensor
    box: Box


@dataclass
class TrainOutput:
    """What every segmentor's ``forward_train(images, generator)`` returns: the training pass.

    logits: [B, C, H/4, W/4] the prediction the losses score (HRDA: the fused one).
    low:    the single-resolution output (HRDA: the context branch on the downscaled crop).
    high:   HRDA's detail output on the crop ``box`` (box/4 grid); None for single-scale models.
    box:    the detail crop the model drew for this pass (input pixels); None without a detail branch.
    low_images: [B, 3, h, w] the images the low branch saw (HRDA: the downscaled crop), what the
        ImageNet feature distance feeds its frozen encoder.
    """

    logits: Tensor
    low: SegmentationOutput
    low_images: Tensor
    high: SegmentationOutput | None = None
    box: Box | None = None
