"""Drift pixel asymmetric contrast (DPA), eq. (11)-(12)."""

from __future__ import annotations

import torch
from torch import Tensor


def drift_alignment_terms(
    features: Tensor,
    labels: Tensor,
    anchors: Tensor,
    prototypes: Tensor,
    present: Tensor,
    temperature: float,
    pixel_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Sum of the InfoNCE terms of the anchor pixels against the existing prototypes, and their count.

    For an anchor ``f`` of class ``k``: ``-log(exp(f.p_k/T) / sum_j exp(f.p_j/T))`` over the
    prototypes ``j`` that exist (``present``). Non-anchor pixels contribute exactly 0 and get a zero
    gradient. ``prototypes`` should be detached by the caller (the asymmetric stop-gradient).
    ``pixel_weight`` (optional, [B, N]) scales each anchor's term; the count stays the anchors'.

    Shape: features [B, D, N] (normalised), labels [B, N], anchors [B, N] (bool),
        prototypes [C, D], present [C] (bool) -> (sum [], count [])
    """
    similarity = torch.einsum("bdn,cd->bcn", features, prototypes) / temperature
    # A finite mask (not -inf) keeps rows without prototypes free of NaN in forward and backward;
    # exp(-2/T - 80) is below every float format's resolution relative to the present terms.
    absent_logit = -2.0 / temperature - 80.0
    similarity = similarity.masked_fill(~present[None, :, None], absent_logit)
    log_normaliser = torch.logsumexp(similarity, dim=1)
    safe_labels = torch.where(anchors, labels, torch.zeros_like(labels)).long()
    positive = similarity.gather(1, safe_labels[:, None, :]).squeeze(1)
    weight = anchors.to(similarity.dtype)
    scale = weight if pixel_weight is None else weight * pixel_weight.to(similarity.dtype)
    return ((log_normaliser - positive) * scale).sum(), weight.sum()
