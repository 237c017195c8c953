"""Confusion matrix and mIoU against hand-computed numbers and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import jaccard_score
from torchmetrics.functional.classification import multiclass_confusion_matrix

from pixl.core import IGNORE_INDEX
from pixl.errors import DataError
from pixl.evaluation import (
    ConfusionMatrix,
    confusion_matrix,
    iou_from_confusion,
    miou_from_confusion,
    subset_mious,
)

IGN = IGNORE_INDEX
# 4 classes. Class 3 is never in the ground truth and never predicted (empty union -> left out);
# class 2 is never in the ground truth but predicted once (IoU 0, counted). Two ignored pixels
# carry predictions of class 3 and 1 that must not count.
TARGET = torch.tensor([[0, 0, 0, 1], [1, 1, IGN, IGN], [0, 1, 0, 0]])
PREDS = torch.tensor([[0, 0, 1, 1], [1, 2, 3, 1], [0, 1, 0, 1]])


def test_confusion_matrix_by_hand() -> None:
    conf = confusion_matrix(PREDS, TARGET, 4)
    # rows = ground truth, columns = prediction
    expected = torch.tensor([[4, 2, 0, 0], [0, 3, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert torch.equal(conf, expected)


def test_confusion_matrix_equals_torchmetrics() -> None:
    generator = torch.Generator().manual_seed(0)
    preds = torch.randint(0, 7, (3, 40, 50), generator=generator)
    target = torch.randint(0, 7, (3, 40, 50), generator=generator)
    target[torch.rand(target.shape, generator=generator) < 0.2] = IGN
    expected = multiclass_confusion_matrix(preds, target, 7, ignore_index=IGN)
    assert torch.equal(confusion_matrix(preds, target, 7), expected)


def test_iou_and_miou_by_hand() -> None:
    conf = confusion_matrix(PREDS, TARGET, 4)
    iou = iou_from_confusion(conf)
    # class 0: tp 4, fn 2, fp 0 -> 4/6; class 1: tp 3, fn 1, fp 2 -> 3/6; class 2: 0/1; class 3: NaN
    assert iou[:3].tolist() == pytest.approx([4 / 6, 3 / 6, 0.0])
    assert math.isnan(iou[3])
    assert miou_from_confusion(conf) == pytest.approx((4 / 6 + 3 / 6 + 0.0) / 3)
    assert miou_from_confusion(conf, [0, 3]) == pytest.approx(4 / 6)
    assert subset_mious(conf, {"two": (0, 1), "none": (3,)})["two"] == pytest.approx(7 / 12)
    assert math.isnan(subset_mious(conf, {"none": (3,)})["none"])


def test_all_ignored_gives_nan_not_error() -> None:
    conf = confusion_matrix(torch.zeros(2, 2, dtype=torch.long), torch.full((2, 2), IGN), 3)
    assert conf.sum() == 0
    assert math.isnan(miou_from_confusion(conf))


def test_accumulating_batches_equals_one_pass() -> None:
    running = ConfusionMatrix(4)
    running.update(PREDS[:1], TARGET[:1])
    running.update(PREDS[1:], TARGET[1:])
    assert torch.equal(running.matrix, confusion_matrix(PREDS, TARGET, 4))
    assert running.reduce(None) is running.matrix
    assert running.miou() == pytest.approx(miou_from_confusion(running.matrix))


@pytest.mark.parametrize(
    ("preds", "target", "match"),
    [
        (torch.tensor([0, 1]), torch.tensor([0, 7]), "label values"),
        (torch.tensor([0, 5]), torch.tensor([0, 1]), "prediction values"),
        (torch.tensor([0, 1, 1]), torch.tensor([0, 1]), "shape"),
    ],
)
def test_bad_values_raise(preds: torch.Tensor, target: torch.Tensor, match: str) -> None:
    with pytest.raises(DataError, match=match):
        confusion_matrix(preds, target, 4)


def test_prediction_out_of_range_on_ignored_pixel_is_fine() -> None:
    conf = confusion_matrix(torch.tensor([9, 0]), torch.tensor([IGN, 0]), 2)
    assert conf.tolist() == [[1, 0], [0, 0]]


@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5)), min_size=1, max_size=200),
)
def test_iou_matches_sklearn_jaccard(pairs: list[tuple[int, int]]) -> None:
    preds = torch.tensor([p for p, _ in pairs])
    raw_target = torch.tensor([t for _, t in pairs])
    target = torch.where(raw_target == 5, torch.tensor(IGN), raw_target)  # 5 stands for ignore
    iou = iou_from_confusion(confusion_matrix(preds, target, 5))
    keep = (target != IGN).numpy()
    if not keep.any():
        assert iou.isnan().all()
        return
    expected = jaccard_score(
        target.numpy()[keep],
        preds.numpy()[keep],
        labels=list(range(5)),
        average=None,
        zero_division=0,
    )
    seen = set(target.numpy()[keep]) | set(preds.numpy()[keep])
    absent = np.array([c not in seen for c in range(5)])
    np.testing.assert_array_equal(iou.isnan().numpy(), absent)
    np.testing.assert_allclose(iou.numpy()[~absent], expected[~absent])
