"""ImageNet feature distance (DAFormer): keep the student's deep features near those of a frozen
copy of the ImageNet-initialised encoder, at cells dominated by a "thing" class."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixl.core import IGNORE_INDEX
from pixl.models.encoders import build_encoder, encode_levels


def thing_mask(
    labels: Tensor, size: tuple[int, int], thing_classes: Sequence[int], ratio: float = 0.75
) -> Tensor:
    """True at cells of the ``size`` grid where one thing class covers >= ``ratio`` of the pixels.

    Ignored pixels count in a cell's area (a mostly ignored cell is never a thing cell).
    Shape: labels [B, H, W] -> BoolTensor [B, *size].
    """
    things = torch.as_tensor(list(thing_classes), device=labels.device)
    one_hot = (labels.unsqueeze(1) == things.view(1, -1, 1, 1)).float()
    fractions = F.adaptive_avg_pool2d(one_hot, size)
    return (fractions >= ratio).any(dim=1)


def masked_distance(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    """Mean L2 distance over the True cells; an exact 0 (in the graph) when none is True.

    Shape: student, teacher [B, D, h, w], mask [B, h, w] -> scalar.
    """
    distance = torch.linalg.vector_norm(student - teacher, dim=1)
    weights = mask.to(distance.dtype)
    return (distance * weights).sum() / weights.sum().clamp_min(1)


class FeatureDistance(nn.Module):
    """``weight * masked_distance(student_deep, frozen_encoder(images)[-1], thing_mask)``.

    ``thing_classes`` are the train ids of the dataset's thing classes; the list is defined once,
    with the dataset (``dataset_info(kind).thing_classes``), and the engine passes it.
    """

    def __init__(
        self,
        encoder_name: str,
        weights: str | Path | None = "imagenet",
        *,
        thing_classes: Sequence[int],
        ratio: float = 0.75,
        weight: float = 0.005,
        ignore_index: int = IGNORE_INDEX,
        encoder: nn.Module | None = None,
    ):
        super().__init__()
        if ignore_index in thing_classes:
            raise ValueError(
                f"thing_classes {tuple(thing_classes)} contain ignore_index {ignore_index}"
            )
        frozen = (
            copy.deepcopy(encoder) if encoder is not None else build_encoder(encoder_name, weights)
        )
        self.encoder = frozen.requires_grad_(False).eval()
        self.thing_classes = tuple(thing_classes)
        self.ratio = ratio
        self.weight = weight

    @classmethod
    def from_encoder(cls, encoder: nn.Module, **options: object) -> FeatureDistance:
        """A frozen copy of an already built (e.g. freshly ImageNet-initialised) encoder."""
        return cls("", encoder=encoder, **options)  # type: ignore[arg-type]

    def train(self, mode: bool = True) -> FeatureDistance:
        super().train(mode)
        self.encoder.eval()  # the reference encoder never updates its norm statistics
        return self

    def forward(self, images: Tensor, labels: Tensor, student_deep_features: Tensor) -> Tensor:
        """Shape: images [B, 3, h, w] (what the student saw), labels [B, H, W] (any resolution of
        the same view), student_deep_features [B, D, h/32, w/32] -> scalar."""
        with torch.no_grad():
            reference = encode_levels(self.encoder, images)[-1]
        if reference.shape != student_deep_features.shape:
            raise ValueError(
                f"student deep features {tuple(student_deep_features.shape)} do not match the "
                f"frozen encoder's {tuple(reference.shape)} on these images"
            )
        mask = thing_mask(labels, tuple(reference.shape[-2:]), self.thing_classes, self.ratio)
        return self.weight * masked_distance(
            student_deep_features, reference.to(student_deep_features.dtype), mask
        )
