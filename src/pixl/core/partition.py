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


def random_subset(
    valid: Tensor, counts: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Per row, a uniformly random subset of the valid entries, ``counts[b]`` of them.

    Used by the count-matched control of the anchors (``anchors="random"``): as many anchors as
    the entropy split's drift pixels, drawn without regard to entropy.

    Shape: valid [B, N] (bool), counts [B] (int, at most each row's valid count) -> [B, N] (bool)
    """
    if valid.dim() != 2 or counts.shape != valid.shape[:1]:
        raise ValueError(
            f"random_subset: expected valid [B, N] and counts [B], got {tuple(valid.shape)} and "
            f"{tuple(counts.shape)}"
        )
    if bool((counts > valid.sum(dim=1)).any()) or bool((counts < 0).any()):
        raise ValueError("random_subset: counts must lie between 0 and each row's valid count")
    scores = torch.rand(valid.shape, generator=generator, device=valid.device)
    # Invalid entries rank last (scores lie in [0, 1)); the first counts[b] ranks are taken.
    scores = torch.where(valid, scores, torch.full_like(scores, -1.0))
    ranks = scores.argsort(dim=1, descending=True).argsort(dim=1)
    return valid & (ranks < counts[:, None])


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
