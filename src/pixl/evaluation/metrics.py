"""Confusion matrix -> per-class IoU -> mIoU, the way the Cityscapes benchmark counts it.

Intersection and union are summed over the whole split (never averaged per image); a class whose
union is empty over the split (absent from ground truth and never predicted) has no IoU and is left
out of the mean, exactly like ``cityscapesscripts``' ``getScoreAverage`` (docs/design.md, "The baseline PiXL builds on").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

from pixl.core import IGNORE_INDEX
from pixl.errors import DataError


class AllReducer(Protocol):
    """What ``ConfusionMatrix.reduce`` needs from Lightning Fabric (``fabric.all_reduce``)."""

    def all_reduce(self, data: Tensor, group: Any = None, reduce_op: str = "mean") -> Tensor: ...


def confusion_matrix(
    preds: Tensor, target: Tensor, num_classes: int, *, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """Count (ground truth, prediction) pairs; pixels whose target is ``ignore_index`` are skipped.

    Shape: preds [...] int class ids, target [...] (same shape) -> LongTensor [C, C],
    rows = ground truth, columns = prediction.
    Raises ``DataError`` when a target or prediction is outside ``[0, C)`` (and not ignored):
    silently dropping such pixels would change the score.
    """
    if preds.shape != target.shape:
        raise DataError(
            f"prediction shape {tuple(preds.shape)} != label shape {tuple(target.shape)}"
        )
    valid = target != ignore_index
    # One masked pass and one bincount; same counts as torchmetrics' multiclass_confusion_matrix
    # (checked in the tests), without its second masking, and with the range checked.
    truth, guess = target[valid].long(), preds[valid].long()
    _check_range(truth, num_classes, "label")
    _check_range(guess, num_classes, "prediction")
    counts = torch.bincount(truth * num_classes + guess, minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes)


def _check_range(values: Tensor, num_classes: int, what: str) -> None:
    if values.numel() == 0:
        return
    low, high = (int(v) for v in torch.aminmax(values))
    if low < 0 or high >= num_classes:
        raise DataError(
            f"{what} values must be class ids in [0, {num_classes}) or {IGNORE_INDEX} (ignore); "
            f"got values in [{low}, {high}]"
        )


def iou_from_confusion(conf: Tensor) -> Tensor:
    """Per-class IoU = TP / (TP + FP + FN); NaN where the union is empty.

    Shape: conf [C, C] (rows = ground truth) -> float64 [C].
    """
    conf = conf.double()
    tp = conf.diagonal()
    union = conf.sum(dim=0) + conf.sum(dim=1) - tp
    iou = tp / union.clamp(min=1)
    return torch.where(union > 0, iou, torch.full_like(iou, math.nan))


def miou_from_confusion(conf: Tensor, classes: Sequence[int] | None = None) -> float:
    """Mean IoU over ``classes`` (all by default) that have a non-empty union; NaN if none has.

    Shape: conf [C, C] -> float.
    """
    iou = iou_from_confusion(conf)
    if classes is not None:
        iou = iou[list(classes)]
    present = iou[~iou.isnan()]
    return float(present.mean()) if present.numel() else math.nan


class ConfusionMatrix:
    """Running confusion matrix over a split; ``reduce`` sums it across DDP ranks.

    Counted on the predictions' device (on GPU, predictions never move to the CPU).
    """

    def __init__(
        self,
        num_classes: int,
        *,
        ignore_index: int = IGNORE_INDEX,
        device: torch.device | str | None = None,
    ) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        # On the model's device from the start: a rank without images must still all-reduce a
        # tensor on the device its backend expects (NCCL: CUDA).
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add one batch. Shape: preds [...] class ids, target [...] train ids."""
        batch = confusion_matrix(preds, target, self.num_classes, ignore_index=self.ignore_index)
        self.matrix = self.matrix.to(batch.device) + batch

    def reduce(self, fabric: AllReducer | None) -> Tensor:
        """Sum over ranks (a no-op without ``fabric``); returns and keeps the summed matrix."""
        if fabric is not None:
            self.matrix = fabric.all_reduce(self.matrix, reduce_op="sum").long()
        return self.matrix

    def iou(self) -> Tensor:
        return iou_from_confusion(self.matrix)

    def miou(self, classes: Sequence[int] | None = None) -> float:
        return miou_from_confusion(self.matrix, classes)


def subset_mious(conf: Tensor, subsets: Mapping[str, Sequence[int]]) -> dict[str, float]:
    """mIoU over each named class subset, e.g. ``{"mIoU16": (...), "mIoU13": (...)}``."""
    return {name: miou_from_confusion(conf, classes) for name, classes in subsets.items()}
