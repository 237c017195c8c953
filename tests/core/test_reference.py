"""The vectorised core agrees with a literal loop transcription of docs/design.md, "The core contract"."""

import pytest
import torch

from pixl.core import pixl_loss

from .reference import random_resolution, reference_pixl_loss


@pytest.mark.parametrize("adaptive_selection", [True, False])
@pytest.mark.parametrize("with_high", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_matches_reference(seed, with_high, adaptive_selection):
    g = torch.Generator().manual_seed(seed)
    classes = 5
    low = random_resolution(g, 2, 6, classes, (4, 5))
    high = random_resolution(g, 2, 6, classes, (6, 3)) if with_high else None
    eta = [0.2, 0.5, 0.05, 0.9][seed]
    temperature = [0.1, 0.5, 1.0, 0.07][seed]
    ours = pixl_loss(
        low,
        high,
        num_classes=classes,
        eta=eta,
        temperature=temperature,
        adaptive_selection=adaptive_selection,
    )
    expected = reference_pixl_loss(
        low,
        high,
        num_classes=classes,
        eta=eta,
        temperature=temperature,
        adaptive_selection=adaptive_selection,
    )
    assert ours.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_selection_can_take_high_resolution_prototypes():
    # Many low pixels for class 0, few for class 1; class 1 dominates the high resolution.
    g = torch.Generator().manual_seed(7)
    features_l = torch.randn(1, 3, 4, 4, generator=g, dtype=torch.float64)
    logits_l = torch.randn(1, 2, 4, 4, generator=g, dtype=torch.float64)
    labels_l = torch.zeros(1, 4, 4, dtype=torch.long)
    labels_l[0, 0, 0] = 1
    features_h = torch.randn(1, 3, 4, 4, generator=g, dtype=torch.float64)
    logits_h = torch.randn(1, 2, 4, 4, generator=g, dtype=torch.float64)
    labels_h = torch.ones(1, 4, 4, dtype=torch.long)
    low, high = (features_l, logits_l, labels_l), (features_h, logits_h, labels_h)
    from pixl.core import pixl_loss_with_stats

    result = pixl_loss_with_stats(low, high, num_classes=2, eta=0.3, temperature=0.2)
    expected = reference_pixl_loss(low, high, num_classes=2, eta=0.3, temperature=0.2)
    assert result.loss.item() == pytest.approx(expected, rel=1e-9)
    assert result.stats.as_dict()["prototypes_from_high"] >= 1
