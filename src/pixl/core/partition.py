"""Entropy-based split of pixels into joint (low entropy) and drift (high entropy), eq. (8)-(9)."""

from __future__ import annotations

import torch
from torch import Tensor

from pixl.core.checks import check_eta


def masked_quantile(values: Tensor, valid: Tensor, q: float) -> Tensor:
    """Per-row ``q``-quantile over the valid entries, with linear interpolation (numpy's default).

    Rows without a valid entry get +inf (so ``h < t`` marks every one of their pixels joint, and
    the caller masks them out anyway).

    Shape: values [B, N], valid [B, N] (bool) -> [B]
    """
    inf = torch.tensor(float("inf"), dtype=values.dtype, device=values.device)
    ordered, _ = torch.sort(torch.where(valid, values, inf), dim=1)
    count = valid.sum(dim=1)
    position = q * (count - 1).clamp(min=0).to(values.dtype)
    lower = position.floor().long()
    upper = position.ceil().long()
    low_value = ordered.gather(1, lower[:, None]).squeeze(1)
    high_value = ordered.gather(1, upper[:, None]).squeeze(1)
    fraction = position - lower.to(values.dtype)
    # An exact lower value when the position is integral avoids inf - inf for empty rows.
    threshold = torch.where(
        fraction > 0, low_value + (high_value - low_value) * fraction, low_value
    )
    return torch.where(count > 0, threshold, inf)


def partition_pixels(entropy: Tensor, eta: float) -> Tensor:
    """Split pixels by the entropy quantile: True = joint (``h < t``), False = drift (``h >= t``).

    ``t = quantile(entropy, 1 - eta)`` with linear interpolation; ``eta`` is the drift fraction.

    Shape: entropy [N] -> [N] (bool)
    """
    check_eta(eta)
    if entropy.dim() != 1:
        raise ValueError(f"entropy: expected a 1-D tensor [N], got shape {tuple(entropy.shape)}")
    valid = torch.ones(1, entropy.numel(), dtype=torch.bool, device=entropy.device)
    threshold = masked_quantile(entropy[None], valid, 1.0 - eta)
    return entropy < threshold
