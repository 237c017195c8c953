"""Adaptive prototype selection between low and high resolution, eq. (13)-(14)."""

from __future__ import annotations

import torch
from torch import Tensor


def median_of_present(counts: Tensor) -> Tensor:
    """Median (numpy convention: mean of the two middle values) of the positive counts; +inf if none.

    Shape: counts [C] -> [] (scalar)
    """
    present = counts > 0
    inf = torch.tensor(float("inf"), dtype=counts.dtype, device=counts.device)
    ordered, _ = torch.sort(torch.where(present, counts, inf))
    n = present.sum()
    lower = ((n - 1).clamp(min=0) // 2)[None]
    upper = (n // 2).clamp(max=counts.numel() - 1)[None]
    median = (ordered.gather(0, lower) + ordered.gather(0, upper)).squeeze(0) / 2
    return torch.where(n > 0, median, inf)


def select_from_low(low_counts: Tensor, high_counts: Tensor) -> Tensor:
    """True where eq. (14) keeps the low-resolution prototype, False where it takes the high one.

    ``p = P_L`` if ``N_L >= m``; ``P_L`` if ``N_L < m`` and ``N_H < N_L``; else ``P_H``, with
    ``m`` the median of ``N_L`` over classes present at low resolution. When no class is present at
    low resolution, ``m = +inf`` and every prototype comes from the high resolution.

    Shape: low_counts [C], high_counts [C] -> [C] (bool)
    """
    median = median_of_present(low_counts)
    return (low_counts >= median) | (high_counts < low_counts)
