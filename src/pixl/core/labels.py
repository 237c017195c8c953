"""Bringing dense labels to the (coarser) feature resolution."""

from __future__ import annotations

import torch
from torch import Tensor

from pixl.core.checks import check_labels
from pixl.core.constants import IGNORE_INDEX


def labels_to_feature_resolution(
    labels: Tensor,
    size: tuple[int, int],
    num_classes: int,
    ignore_index: int = IGNORE_INDEX,
    min_purity: float = 0.0,
) -> Tensor:
    """Majority valid label of each feature cell; a cell with only ignored pixels -> ``ignore_index``.

    Cell ``(i, j)`` covers rows ``[i*H/h, (i+1)*H/h)`` and columns ``[j*W/w, (j+1)*W/w)`` (floor);
    ties go to the smallest class id. Counting is done with one ``bincount`` (no one-hot image).

    ``min_purity`` > 0 keeps the majority class only where its count over **all** pixels of the
    cell (ignored ones included) is >= ``min_purity``, else the cell is ``ignore_index``: SePiCo's /
    DAFormer's ``downscale_label_ratio`` rule (0.75 there). 0 (default): the plain majority.

    Shape: labels [B, H, W] -> [B, h, w] (same dtype)
    """
    if labels.dim() != 3:
        raise ValueError(f"labels: expected [B, H, W], got shape {tuple(labels.shape)}")
    check_labels("labels", labels, num_classes, ignore_index)
    if not 0.0 <= float(min_purity) < 1.0:
        raise ValueError(f"min_purity: expected a fraction in [0, 1), got {min_purity}")
    batch, height, width = labels.shape
    out_h, out_w = size
    if not (0 < out_h <= height and 0 < out_w <= width):
        raise ValueError(f"size: expected 0 < (h, w) <= {(height, width)}, got {tuple(size)}")
    device = labels.device
    rows = torch.arange(height, device=device) * out_h // height
    cols = torch.arange(width, device=device) * out_w // width
    cell = (rows[:, None] * out_w + cols[None, :]).expand(batch, -1, -1)
    cells = out_h * out_w
    valid = labels != ignore_index
    # Ignored pixels are counted in an extra bucket (class index num_classes) that is never chosen.
    klass = torch.where(valid, labels, torch.full_like(labels, num_classes)).long()
    image = torch.arange(batch, device=device)[:, None, None]
    key = (image * (num_classes + 1) + klass) * cells + cell
    counts = torch.bincount(key.reshape(-1), minlength=batch * (num_classes + 1) * cells)
    counts = counts.view(batch, num_classes + 1, cells)
    best_count, best_class = counts[:, :num_classes].max(dim=1)
    keep = best_count > 0
    if min_purity > 0:
        # The denominator counts ignored pixels too (the extra bucket), as DAFormer's rule does.
        keep = keep & (best_count >= min_purity * counts.sum(dim=1))
    out = torch.where(keep, best_class, torch.full_like(best_class, ignore_index))
    return out.view(batch, out_h, out_w).to(labels.dtype)
