"""Class prototypes from joint pixels, eq. (10) and (13)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def class_feature_sums(
    features: Tensor, labels: Tensor, mask: Tensor, num_classes: int
) -> tuple[Tensor, Tensor]:
    """Per-class sum and count of the (already normalised) features of the masked pixels, over all images.

    ``labels`` must be valid class ids wherever ``mask`` is True (other values are not read).
    Computed as one ``one_hot @ features`` contraction: no loop over classes or pixels.

    Shape: features [B, D, N], labels [B, N], mask [B, N] -> sums [C, D], counts [C]
    """
    safe_labels = torch.where(mask, labels, torch.zeros_like(labels)).long()
    one_hot = F.one_hot(safe_labels, num_classes).to(features.dtype) * mask[..., None]
    sums = torch.einsum("bnc,bdn->cd", one_hot, features)
    counts = one_hot.sum(dim=(0, 1))
    return sums, counts


def normalise_prototypes(sums: Tensor) -> Tensor:
    """L2-normalised class means (normalising the sum equals normalising the mean).

    Shape: sums [C, D] -> [C, D]
    """
    return F.normalize(sums, dim=1)
