"""Whole-image or sliding-window inference over a split, accumulated into an ``EvalReport``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixl.core import IGNORE_INDEX
from pixl.errors import CheckpointError
from pixl.evaluation.metrics import AllReducer, ConfusionMatrix
from pixl.evaluation.report import EvalReport
from pixl.models import Predictor, predict_logits

Mode = Literal["whole", "slide"]


def check_num_classes(model: Predictor, num_classes: int, source: str) -> None:
    """Raise ``CheckpointError`` when ``model`` predicts another number of classes than expected."""
    model_classes = model.num_classes
    if int(model_classes) != num_classes:
        raise CheckpointError(
            f"{source}: the model predicts {model_classes} classes but the dataset has "
            f"{num_classes}; use a checkpoint trained for this dataset"
        )


def check_same_classes(
    expected: Sequence[str], found: Sequence[str], source: str, where: str
) -> None:
    """Raise ``CheckpointError`` unless ``where`` has the classes ``expected`` of ``source``
    (names and order: class i must mean one thing to the model and to the data)."""
    if tuple(expected) == tuple(found):
        return
    if sorted(expected) == sorted(found):
        first = next(i for i, (a, b) in enumerate(zip(expected, found, strict=True)) if a != b)
        problem = (
            f"the same names in another order (class {first} is {found[first]!r} here, "
            f"{expected[first]!r} for {source})"
        )
    else:
        problem = (
            f"{len(found)} classes [{', '.join(found)}] here, {len(expected)} "
            f"[{', '.join(expected)}] for {source}"
        )
    raise CheckpointError(f"{where}: classes differ: {problem}; give both the same classes.yaml")


def predict_labels(
    model: nn.Module,
    images: Tensor,
    *,
    mode: Mode = "whole",
    window: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
    size: tuple[int, int] | None = None,
) -> Tensor:
    """Class ids per pixel; logits are resized bilinearly to ``size`` (default: input size) first.

    Shape: images [B, 3, H, W] -> LongTensor [B, *size].
    """
    logits = predict_logits(model, images, mode=mode, window=window, stride=stride)
    if size is not None and tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits.float(), size=size, mode="bilinear", align_corners=False)
    return logits.argmax(dim=1)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: Iterable[Mapping[str, Tensor] | list[Mapping[str, Tensor]]],
    *,
    num_classes: int,
    mode: Mode = "whole",
    window: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
    fabric: AllReducer | None = None,
    class_names: Sequence[str] | None = None,
    subsets: Mapping[str, Sequence[int]] | None = None,
    max_images: int | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> EvalReport:
    """Predict every batch of ``loader`` and score it against its ``"label"``; a loader item may
    also be a list of batches (images of different sizes in one loader batch).

    The confusion matrix is summed over the split, then over ranks (``fabric.all_reduce``), so each
    rank returns the same report. Predictions are made at the label's size (logits resized
    bilinearly). ``max_images`` stops this loader after that many images (a global cap
    under DDP is a capped dataset before sharding: ``runner.rank_shard(..., max_images)``). The model is put in eval
    mode and given back in the mode it came in.
    """
    check_num_classes(model, num_classes, "model")
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    device = next(model.parameters()).device
    matrix = ConfusionMatrix(num_classes, ignore_index=ignore_index, device=device)
    seen = 0
    was_training = model.training
    model.eval()
    try:
        for loaded in loader:
            # A batch, or a list of batches of one size each (``runner.collate_by_size``).
            for batch in loaded if isinstance(loaded, list) else [loaded]:
                if max_images is not None and seen >= max_images:
                    break
                images, labels = batch["image"].to(device), batch["label"].to(device)
                preds = predict_labels(
                    model, images, mode=mode, window=window, stride=stride, size=labels.shape[-2:]
                )
                matrix.update(preds, labels)
                seen += images.shape[0]
    finally:
        model.train(was_training)
    conf = matrix.reduce(fabric)
    count = torch.tensor(seen, device=conf.device)
    if fabric is not None:
        count = fabric.all_reduce(count, reduce_op="sum")
    return EvalReport.from_confusion(conf, names, subsets=subsets, num_images=int(count))
