"""Optional per-pixel anchor weights of the PiXL loss (``low_weight`` / ``high_weight``)."""

import pytest
import torch

from pixl.core import IGNORE_INDEX, pixl_loss, pixl_loss_with_stats

from .reference import random_resolution


def _group(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    low = random_resolution(g, 2, 8, 4, (6, 6), 0.2, torch.float64)
    high = random_resolution(g, 2, 8, 4, (4, 4), 0.2, torch.float64)
    return low, high


KW = {"num_classes": 4, "eta": 0.4, "temperature": 0.5}


def test_unit_weights_equal_no_weights() -> None:
    low, high = _group()
    plain = pixl_loss(low, high, **KW)
    ones = pixl_loss(
        low, high, **KW, low_weight=torch.ones_like(low[2], dtype=torch.float64),
        high_weight=torch.ones_like(high[2], dtype=torch.float64),
    )  # fmt: skip
    torch.testing.assert_close(ones, plain, rtol=0, atol=1e-12)


def test_weights_scale_each_anchor_and_keep_the_anchor_count() -> None:
    low, high = _group(1)
    plain = pixl_loss_with_stats(low, high, **KW)
    half = pixl_loss_with_stats(
        low, high, **KW, low_weight=torch.full(low[2].shape, 0.5, dtype=torch.float64),
        high_weight=torch.full(high[2].shape, 0.5, dtype=torch.float64),
    )  # fmt: skip
    torch.testing.assert_close(half.loss, 0.5 * plain.loss, rtol=1e-12, atol=1e-12)
    assert int(half.stats.anchors) == int(plain.stats.anchors) > 0


def test_a_zero_weight_removes_the_pixel_from_the_pull_only() -> None:
    low, _ = _group(2)
    features = low[0].clone().requires_grad_(True)
    weight = torch.ones(low[2].shape, dtype=torch.float64)
    weight[0] = 0.0  # image 0's anchors weigh nothing
    loss = pixl_loss((features, low[1], low[2]), None, **KW, low_weight=weight)
    loss.backward()
    assert features.grad is not None
    assert torch.count_nonzero(features.grad[0]) == 0
    assert torch.count_nonzero(features.grad[1]) > 0


def test_a_weight_of_the_wrong_shape_is_refused() -> None:
    low, _ = _group(3)
    with pytest.raises(ValueError, match="low_weight: expected shape"):
        pixl_loss(low, None, **KW, low_weight=torch.ones(3, 3))
    assert IGNORE_INDEX == 255
