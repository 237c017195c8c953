"""Labels at feature resolution: majority valid label per cell, all-ignored cell -> ignore."""

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
