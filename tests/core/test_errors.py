"""User mistakes raise a one-line ValueError naming the argument, what was expected and what was given."""

import pytest
import torch

from pixl.core import (
    IGNORE_INDEX,
    PiXLLoss,
    eta_at,
    labels_to_feature_resolution,
    partition_pixels,
    pixl_loss,
)


def _group(c=3, size=(4, 4)):
    return torch.randn(2, 8, *size), torch.randn(2, c, *size), torch.randint(0, c, (2, *size))


def _raises(match, fn):
    with pytest.raises(ValueError, match=match) as info:
        fn()
    assert "\n" not in str(info.value)


def test_mismatched_logits():
    f, z, y = _group()
    _raises(
        r"low logits: expected shape \(2, 4, 4, 4\).*got \(2, 3, 4, 4\)",
        lambda: pixl_loss((f, z, y), None, num_classes=4, eta=0.2, temperature=0.1),
    )


def test_mismatched_labels():
    f, z, _ = _group()
    _raises(
        r"low labels: expected shape \(2, 4, 4\).*got \(2, 8, 8\)",
        lambda: pixl_loss(
            (f, z, torch.zeros(2, 8, 8, dtype=torch.long)),
            None,
            num_classes=3,
            eta=0.2,
            temperature=0.1,
        ),
    )


def test_high_with_other_batch():
    low = _group()
    high = tuple(t[:1] for t in _group())
    _raises(
        r"high features: expected batch and channels \(2, 8\)",
        lambda: pixl_loss(low, high, num_classes=3, eta=0.2, temperature=0.1),
    )


def test_labels_out_of_range():
    f, z, y = _group()
    y[0, 0, 0] = 7
    y[1, 0, 0] = IGNORE_INDEX  # allowed
    _raises(
        r"low labels: expected class ids in \[0, 3\) or the ignore index 255, got \[7\]",
        lambda: pixl_loss((f, z, y), None, num_classes=3, eta=0.2, temperature=0.1),
    )


def test_float_labels():
    f, z, y = _group()
    _raises(
        "expected an integer label tensor",
        lambda: pixl_loss((f, z, y.float()), None, num_classes=3, eta=0.2, temperature=0.1),
    )


@pytest.mark.parametrize("eta", [-0.1, 1.5])
def test_eta_out_of_range(eta):
    _raises(
        rf"eta: expected a drift fraction in \[0, 1\], got {eta}",
        lambda: pixl_loss(_group(), None, num_classes=3, eta=eta, temperature=0.1),
    )
    _raises("eta", lambda: partition_pixels(torch.rand(5), eta))


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_temperature_not_positive(temperature):
    _raises(
        rf"temperature: expected a value > 0, got {temperature}",
        lambda: pixl_loss(_group(), None, num_classes=3, eta=0.2, temperature=temperature),
    )
    _raises("temperature", lambda: PiXLLoss(3, temperature=temperature))


def test_schedule_arguments():
    _raises("total_steps", lambda: eta_at(0, 0))
    _raises("start", lambda: eta_at(0, 10, start=2.0))


def test_label_downsampling_arguments():
    _raises(
        "labels: expected",
        lambda: labels_to_feature_resolution(torch.zeros(4, 4, dtype=torch.long), (2, 2), 3),
    )
    _raises(
        "size",
        lambda: labels_to_feature_resolution(torch.zeros(1, 4, 4, dtype=torch.long), (8, 8), 3),
    )
