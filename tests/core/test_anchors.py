"""pixl.anchors: "drift" (the paper), "all" (every valid pixel a prototype source and an anchor)
and "random" (the paper's prototypes, a count-matched random set of anchors)."""

import pytest
import torch
from torch.nn import functional as F

from pixl.core import IGNORE_INDEX, PiXLLoss, pixl_loss, pixl_loss_with_stats, random_subset

X = IGNORE_INDEX


def _resolution(seed: int, labels: torch.Tensor, dim: int = 3, classes: int = 3):
    g = torch.Generator().manual_seed(seed)
    batch, h, w = labels.shape
    features = torch.randn(batch, dim, h, w, generator=g, dtype=torch.float64)
    logits = torch.randn(batch, classes, h, w, generator=g, dtype=torch.float64)
    return features, logits, labels


def test_all_anchors_count_every_valid_cell():
    labels = torch.tensor([[[0, 1, X], [2, 0, 1]], [[X, X, 0], [1, 1, 2]]])
    low = _resolution(0, labels)
    stats = pixl_loss_with_stats(low, None, num_classes=3, eta=0.2, temperature=1.0, anchors="all")
    valid = int((labels != X).sum())
    assert float(stats.stats.anchors) == valid == 9
    assert float(stats.stats.prototypes) == 3
    drift = pixl_loss_with_stats(low, None, num_classes=3, eta=0.2, temperature=1.0)
    assert float(drift.stats.anchors) < valid  # the paper's split pulls only some of them


def test_all_anchors_prototypes_are_class_means_over_all_pixels():
    # Two classes, hand-checked: class 0 at (1, 0) and (0, 1), class 1 at (1, 1) and (-1, 1).
    features = torch.tensor(
        [[[[1.0, 0.0, 1.0, -1.0]], [[0.0, 1.0, 1.0, 1.0]]]], dtype=torch.float64
    )  # [1, 2, 1, 4]
    labels = torch.tensor([[[0, 0, 1, 1]]])
    logits = torch.zeros(1, 2, 1, 4, dtype=torch.float64)
    s = 2**-0.5
    p0 = torch.tensor([s, s], dtype=torch.float64)  # mean (0.5, 0.5), normalised
    p1 = torch.tensor([0.0, 1.0], dtype=torch.float64)  # mean of (s, s), (-s, s) = (0, s)
    unit = F.normalize(features[0, :, 0].T, dim=1)  # [4, 2] normalised pixel features
    prototypes = torch.stack([p0, p1])
    scores = unit @ prototypes.T  # [4, 2], T = 1
    expected = (torch.logsumexp(scores, dim=1) - scores[torch.arange(4), labels[0, 0]]).mean()
    loss = pixl_loss(
        (features, logits, labels), None, num_classes=2, eta=0.5, temperature=1.0, anchors="all"
    )
    torch.testing.assert_close(loss, expected)


def test_drift_is_unchanged_and_the_default():
    labels = torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(3))
    low, high = _resolution(1, labels), _resolution(2, labels)
    default = pixl_loss(low, high, num_classes=3, eta=0.3, temperature=0.5)
    drift = pixl_loss(low, high, num_classes=3, eta=0.3, temperature=0.5, anchors="drift")
    every = pixl_loss(low, high, num_classes=3, eta=0.3, temperature=0.5, anchors="all")
    assert torch.equal(default, drift)
    assert not torch.equal(drift, every)


def test_all_anchors_keep_adaptive_selection_and_gradients():
    labels = torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(4))
    low, high = _resolution(5, labels), _resolution(6, labels)
    low = (low[0].requires_grad_(), low[1], low[2])
    result = PiXLLoss(3, anchors="all")(low, high, eta=0.2)
    result.loss.backward()
    # Every valid low pixel is an anchor, so every one gets a gradient.
    assert bool((low[0].grad.abs().sum(dim=1) > 0).all())
    assert float(result.stats.anchors) == 2 * 2 * 16
    with pytest.raises(ValueError, match="anchors"):
        PiXLLoss(3, anchors="joint")  # type: ignore[arg-type]


def test_random_subset_takes_exactly_the_count_among_valid_entries():
    valid = torch.tensor([[True, False, True, True, False], [False, False, True, True, True]])
    counts = torch.tensor([2, 3])
    for seed in range(5):
        torch.manual_seed(seed)
        chosen = random_subset(valid, counts)
        assert torch.equal(chosen.sum(dim=1), counts)
        assert not bool((chosen & ~valid).any())
    with pytest.raises(ValueError, match="counts"):
        random_subset(valid, torch.tensor([4, 0]))


def test_random_subset_is_uniform_over_valid_entries():
    valid = torch.ones(1, 4, dtype=torch.bool)
    torch.manual_seed(0)
    hits = sum(random_subset(valid, torch.tensor([1])).long() for _ in range(4000))
    share = hits[0].double() / 4000
    assert bool(((share - 0.25).abs() < 0.04).all()), share


def test_random_anchors_match_the_drift_count_and_keep_the_prototypes():
    labels = torch.randint(0, 3, (2, 6, 6), generator=torch.Generator().manual_seed(7))
    labels[0, 0, :3] = X
    low, high = _resolution(8, labels), _resolution(9, labels)
    drift = pixl_loss_with_stats(low, high, num_classes=3, eta=0.3, temperature=1.0)
    torch.manual_seed(0)
    random = pixl_loss_with_stats(
        low, high, num_classes=3, eta=0.3, temperature=1.0, anchors="random"
    )
    assert float(random.stats.drift_pixels) == float(drift.stats.drift_pixels)
    assert float(random.stats.joint_pixels) == float(drift.stats.joint_pixels)
    assert float(random.stats.prototypes) == float(drift.stats.prototypes)
    assert float(random.stats.prototypes_from_high) == float(drift.stats.prototypes_from_high)
    assert not torch.equal(random.loss, drift.loss)  # other pixels are pulled


def test_random_anchors_include_low_entropy_pixels():
    # eta 0.25 of 8 cells: the drift set is the two highest-entropy cells (uniform logits); with
    # random anchors over many draws, confident cells are pulled too.
    labels = torch.tensor([[[0, 1, 0, 1], [1, 0, 1, 0]]])  # both classes have joint cells
    features = torch.randn(1, 3, 2, 4, dtype=torch.float64, requires_grad=True)
    logits = torch.zeros(1, 2, 2, 4, dtype=torch.float64)
    logits[0, 0, :, :3] = 8.0  # confident cells; the last column is uniform (high entropy)
    torch.manual_seed(1)
    touched = torch.zeros(2, 4, dtype=torch.bool)
    for _ in range(30):
        features.grad = None
        pixl_loss(
            (features, logits, labels),
            None,
            num_classes=2,
            eta=0.25,
            temperature=1.0,
            anchors="random",
        ).backward()
        touched |= features.grad[0].abs().sum(dim=0) > 0
    assert bool(touched[:, :3].any())
    features.grad = None
    pixl_loss((features, logits, labels), None, num_classes=2, eta=0.25, temperature=1.0).backward()
    drift_touched = features.grad[0].abs().sum(dim=0) > 0
    assert not bool(drift_touched[:, :3].any()) and bool(drift_touched[:, 3].all())
