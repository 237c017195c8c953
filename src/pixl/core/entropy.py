"""Pixel entropy, eq. (7) of the paper."""

from __future__ import annotations

import torch
from torch import Tensor


def pixel_entropy(probs: Tensor, dim: int = -1) -> Tensor:
    """Shannon entropy of each pixel's predicted distribution, natural log, with 0·log 0 = 0.

    Shape: probs [N, C] -> [N] (``dim`` selects the class axis; it is removed).
    """
    # xlogy gives exactly 0 where p == 0, so no epsilon bends the value.
    return -torch.xlogy(probs, probs).sum(dim=dim)
