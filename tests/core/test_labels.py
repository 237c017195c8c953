"""Labels at feature resolution: majority valid label per cell, all-ignored cell -> ignore."""

import pytest
import torch

from pixl.core import IGNORE_INDEX, labels_to_feature_resolution

X = IGNORE_INDEX  # short name keeps the label grids readable


def test_majority_per_cell_and_ignored_cells():
    labels = torch.tensor(
        [
            [
                [1, 1, 2, X],
                [1, 2, X, X],
                [X, X, 0, 0],
                [X, X, 3, 0],
            ]
        ]
    )
    out = labels_to_feature_resolution(labels, (2, 2), num_classes=4)
    # top-left: 1 x3 vs 2 x1 -> 1; top-right: only 2 is valid -> 2 (boundary kept);
    # bottom-left: all ignored -> ignore; bottom-right: 0 x3 vs 3 x1 -> 0.
    assert out.tolist() == [[[1, 2], [X, 0]]]
    assert out.dtype == labels.dtype


def test_ties_go_to_the_smallest_class_and_identity_size():
    labels = torch.tensor([[[3, 1], [1, 3]]])
    assert labels_to_feature_resolution(labels, (1, 1), num_classes=4).tolist() == [[[1]]]
    assert torch.equal(labels_to_feature_resolution(labels, (2, 2), num_classes=4), labels)


def test_matches_one_hot_average_pool():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (3, 16, 24), generator=g)
    labels[torch.rand(3, 16, 24, generator=g) < 0.3] = X
    out = labels_to_feature_resolution(labels, (4, 6), num_classes=5)
    one_hot = torch.nn.functional.one_hot(torch.where(labels == X, 5, labels), 6)[..., :5]
    counts = torch.nn.functional.avg_pool2d(one_hot.permute(0, 3, 1, 2).double(), 4)
    expected = torch.where(counts.sum(1) > 0, counts.argmax(1), torch.tensor(X))
    assert torch.equal(out, expected)


def _cell(counts: dict[int, int], side: int = 4) -> torch.Tensor:
    """One [1, side, side] cell holding ``counts`` pixels of each label, row-major."""
    values = [label for label, n in counts.items() for _ in range(n)]
    assert len(values) == side * side
    return torch.tensor(values).view(1, side, side)


def test_min_purity_counts_ignored_pixels_in_the_denominator():
    mostly_ignored = _cell({X: 15, 2: 1})
    # The plain majority keeps the one valid pixel's class; 1/16 < 0.75 drops it.
    assert labels_to_feature_resolution(mostly_ignored, (1, 1), 4).tolist() == [[[2]]]
    assert labels_to_feature_resolution(mostly_ignored, (1, 1), 4, min_purity=0.75).tolist() == [
        [[X]]
    ]


def test_min_purity_threshold_is_inclusive():
    kept = _cell({1: 12, 3: 4})  # 12/16 = 0.75
    dropped = _cell({1: 11, 3: 3, X: 2})  # 11/16 < 0.75 (11/14 of the valid pixels would pass)
    labels = torch.cat([kept, dropped], dim=2)  # two cells side by side
    assert labels_to_feature_resolution(labels, (1, 2), 4).tolist() == [[[1, 1]]]
    assert labels_to_feature_resolution(labels, (1, 2), 4, min_purity=0.75).tolist() == [[[1, X]]]


def test_min_purity_zero_is_the_plain_majority_and_bad_values_are_refused():
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 5, (2, 16, 16), generator=g)
    labels[torch.rand(2, 16, 16, generator=g) < 0.3] = X
    assert torch.equal(
        labels_to_feature_resolution(labels, (4, 4), 5, min_purity=0.0),
        labels_to_feature_resolution(labels, (4, 4), 5),
    )
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="min_purity"):
            labels_to_feature_resolution(labels, (4, 4), 5, min_purity=bad)
