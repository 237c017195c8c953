"""Hand-computed values for every equation of the core (eq. 7-14 and the InfoNCE of eq. 11)."""

import math

import numpy as np
import pytest
import torch

from pixl.core import (
    IGNORE_INDEX,
    class_feature_sums,
    drift_alignment_terms,
    eta_at,
    median_of_present,
    normalise_prototypes,
    partition_pixels,
    pixel_entropy,
    pixl_loss,
    pixl_loss_with_stats,
    select_from_low,
)


def test_entropy_hand_values():
    probs = torch.tensor([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    expected = torch.tensor([math.log(4), 0.0, math.log(2)])
    torch.testing.assert_close(pixel_entropy(probs), expected)


def test_entropy_class_axis_can_be_chosen():
    probs = torch.tensor([[0.5, 1.0], [0.5, 0.0]])  # classes along dim 0
    torch.testing.assert_close(pixel_entropy(probs, dim=0), torch.tensor([math.log(2), 0.0]))


def test_quantile_threshold_interpolates_linearly():
    entropy = torch.tensor([0.5, 0.1, 0.4, 0.2, 0.3])
    # q = 0.8: position 0.8 * 4 = 3.2 -> t = 0.4 + 0.2 * (0.5 - 0.4) = 0.42; only 0.5 is drift.
    joint = partition_pixels(entropy, eta=0.2)
    assert joint.tolist() == [False, True, True, True, True]
    assert np.quantile(entropy.numpy(), 0.8) == pytest.approx(0.42)


def test_pixel_exactly_at_threshold_is_drift():
    entropy = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5], dtype=torch.float64)
    # q = 0.75: position 3 exactly -> t = 0.4, and h >= t is drift.
    joint = partition_pixels(entropy, eta=0.25)
    assert joint.tolist() == [True, True, True, False, False]


def test_eta_extremes():
    entropy = torch.tensor([0.3, 0.1, 0.2])
    assert partition_pixels(entropy, eta=1.0).sum() == 0  # t = min: everything drift
    assert partition_pixels(entropy, eta=0.0).tolist() == [False, True, True]  # t = max


def test_eta_schedule_is_linear():
    assert eta_at(0, 100) == pytest.approx(0.2)
    assert eta_at(50, 100) == pytest.approx(0.1005)
    assert eta_at(100, 100) == pytest.approx(0.001)
    assert eta_at(500, 100) == pytest.approx(0.001)
    assert eta_at(10, 20, start=0.4, end=0.0) == pytest.approx(0.2)


def test_prototypes_are_normalised_class_means_of_masked_pixels():
    # B=1, D=2, N=4: classes 0, 0, 1, 1; the last pixel is masked out.
    features = torch.tensor([[[1.0, 0.0, 0.0, 5.0], [0.0, 1.0, 1.0, 5.0]]])
    labels = torch.tensor([[0, 0, 1, 1]])
    mask = torch.tensor([[True, True, True, False]])
    sums, counts = class_feature_sums(features, labels, mask, num_classes=3)
    torch.testing.assert_close(sums, torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]))
    torch.testing.assert_close(counts, torch.tensor([2.0, 1.0, 0.0]))
    s = 1 / math.sqrt(2)
    torch.testing.assert_close(
        normalise_prototypes(sums), torch.tensor([[s, s], [0.0, 1.0], [0.0, 0.0]])
    )


def test_median_uses_present_classes_and_numpy_convention():
    assert median_of_present(torch.tensor([10.0, 4.0, 2.0, 0.0, 6.0])) == 5.0
    assert median_of_present(torch.tensor([0.0, 3.0, 0.0, 9.0, 1.0])) == 3.0
    assert median_of_present(torch.zeros(4)) == float("inf")


def test_selection_rule_three_branches():
    n_low = torch.tensor([10.0, 4.0, 2.0, 0.0, 6.0])  # median of present = 5
    n_high = torch.tensor([1.0, 1.0, 5.0, 3.0, 0.0])
    # 10 >= m: low | 4 < m and 1 < 4: low | 2 < m and 5 >= 2: high | absent at low: high | 6 >= m: low
    assert select_from_low(n_low, n_high).tolist() == [True, True, False, False, True]


def test_selection_takes_high_when_no_low_class_is_present():
    assert select_from_low(torch.zeros(3), torch.tensor([2.0, 0.0, 1.0])).tolist() == [False] * 3


def test_infonce_value_of_one_anchor():
    # Anchor f = (1, 0) of class 0; prototypes p0 = (0, 1), p1 = (1, 0), p2 absent; T = 0.5.
    features = torch.tensor([[[1.0], [0.0]]])
    prototypes = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8]])
    present = torch.tensor([True, True, False])
    total, count = drift_alignment_terms(
        features, torch.tensor([[0]]), torch.tensor([[True]]), prototypes, present, temperature=0.5
    )
    expected = -math.log(math.exp(0.0) / (math.exp(0.0) + math.exp(2.0)))
    assert count == 1
    assert total.item() == pytest.approx(expected, rel=1e-6)


def test_full_loss_hand_case():
    # One image, 1x4 pixels, 2 classes, D = 2. Logits make pixels 0 and 2 confident (joint) and
    # pixels 1 and 3 uncertain (drift, eta = 0.5: t = midpoint of the sorted entropies).
    features = torch.tensor([[[[1.0, 0.0, 0.0, 1.0]], [[0.0, 1.0, 1.0, 1.0]]]], dtype=torch.float64)
    logits = torch.tensor([[[[9.0, 0.1, -9.0, 0.0]], [[-9.0, 0.0, 9.0, 0.2]]]], dtype=torch.float64)
    labels = torch.tensor([[[0, 0, 1, 1]]])
    result = pixl_loss_with_stats(
        (features, logits, labels), None, num_classes=2, eta=0.5, temperature=1.0
    )
    # Prototypes: p0 = (1, 0) from pixel 0, p1 = (0, 1) from pixel 2.
    # Pixel 1: f = (0, 1), class 0: -log(e^0 / (e^0 + e^1)).
    # Pixel 3: f = (1, 1)/sqrt2, class 1: both similarities 1/sqrt2 -> log 2.
    expected = (math.log(1 + math.e) + math.log(2)) / 2
    assert result.loss.item() == pytest.approx(expected, rel=1e-12)
    stats = result.stats.as_dict()
    assert stats == {
        "joint_pixels": 2.0,
        "drift_pixels": 2.0,
        "anchors": 2.0,
        "prototypes": 2.0,
        "prototypes_from_high": 0.0,
    }


def test_ignored_pixels_take_no_part():
    features = torch.randn(1, 4, 2, 3, dtype=torch.float64)
    logits = torch.randn(1, 3, 2, 3, dtype=torch.float64)
    labels = torch.full((1, 2, 3), IGNORE_INDEX)
    result = pixl_loss_with_stats(
        (features, logits, labels), None, num_classes=3, eta=0.2, temperature=0.1
    )
    assert result.loss.item() == 0.0
    assert result.stats.as_dict()["joint_pixels"] == 0.0
    assert pixl_loss((features, logits, labels), None, num_classes=3, eta=0.2, temperature=0.1) == 0
