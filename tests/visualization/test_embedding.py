"""Per-class pixel sampling, cluster indices, t-SNE and the embedding figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evaluation.fakes import PatchSegmentor
from pixl.core import IGNORE_INDEX
from pixl.errors import DataError
from pixl.visualization import (
    EmbeddingPanel,
    PixelSample,
    cluster_indices,
    collect_pixel_features,
    plot_embeddings,
    sample_class_pixels,
    tsne_2d,
)


def _labelled_features() -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.tensor([[[0, 0, 0, 1], [1, 2, IGNORE_INDEX, 0]], [[0, 0, 2, 2], [0, 1, 0, 0]]])
    # Feature channel 0 holds the label, channel 1 a unique pixel id: samples can be traced back.
    ids = torch.arange(labels.numel()).view(labels.shape).float()
    return torch.stack([labels.float(), ids], dim=1), labels


def test_sample_class_pixels_caps_each_class_and_skips_ignore() -> None:
    features, labels = _labelled_features()
    x, y = sample_class_pixels(
        features, labels, per_class=3, generator=torch.Generator().manual_seed(0)
    )
    counts = {int(c): int((y == c).sum()) for c in y.unique()}
    assert counts == {0: 3, 1: 3, 2: 3}
    assert torch.equal(x[:, 0].long(), y)  # each feature is the one of its own pixel
    assert len(set(x[:, 1].tolist())) == len(y)  # without replacement
    assert IGNORE_INDEX not in y.tolist()
    _, y_all = sample_class_pixels(features, labels, per_class=100, generator=torch.Generator())
    assert len(y_all) == int((labels != IGNORE_INDEX).sum())


def test_sample_class_pixels_is_seeded() -> None:
    features, labels = _labelled_features()
    draws = [
        sample_class_pixels(
            features, labels, per_class=2, generator=torch.Generator().manual_seed(s)
        )[0]
        for s in (1, 1, 2)
    ]
    assert torch.equal(draws[0], draws[1])
    assert any(
        not torch.equal(
            draws[0],
            sample_class_pixels(
                features, labels, per_class=2, generator=torch.Generator().manual_seed(s)
            )[0],
        )
        for s in range(2, 8)
    )


def test_collect_pixel_features_from_a_model() -> None:
    generator = torch.Generator().manual_seed(0)
    batches = [
        {
            "image": torch.randn(2, 3, 32, 32, generator=generator),
            "label": torch.randint(0, 3, (2, 32, 32), generator=generator),
        }
        for _ in range(3)
    ]
    model = PatchSegmentor(3, feature_dim=8).train()
    sample = collect_pixel_features(model, batches, num_classes=3, per_class=20, seed=0)
    assert model.training  # mode given back
    assert sample.features.shape == (60, 8) and sample.features.dtype == np.float32
    assert np.bincount(sample.labels).tolist() == [20, 20, 20]
    np.testing.assert_allclose(np.linalg.norm(sample.features, axis=1), 1.0, rtol=1e-5)
    again = collect_pixel_features(model, batches, num_classes=3, per_class=20, seed=0)
    assert np.array_equal(again.features, sample.features)


def test_collect_without_labelled_pixels_is_data_error() -> None:
    batches = [{"image": torch.zeros(1, 3, 16, 16), "label": torch.full((1, 16, 16), IGNORE_INDEX)}]
    with pytest.raises(DataError, match="no labelled pixels"):
        collect_pixel_features(PatchSegmentor(3), batches, num_classes=3)


def _clusters(spread: float) -> PixelSample:
    rng = np.random.default_rng(0)
    centres = np.eye(4, 6) * 5
    labels = np.repeat(np.arange(4), 25)
    return PixelSample(
        (centres[labels] + spread * rng.normal(size=(100, 6))).astype(np.float32), labels
    )


def test_cluster_indices_reward_compact_separated_classes() -> None:
    tight, loose = cluster_indices(_clusters(0.3)), cluster_indices(_clusters(3.0))
    assert tight["calinski_harabasz"] > loose["calinski_harabasz"]
    assert tight["davies_bouldin"] < loose["davies_bouldin"]
    with pytest.raises(DataError, match="two classes"):
        cluster_indices(PixelSample(np.zeros((5, 2), np.float32), np.zeros(5, np.int64)))


def test_tsne_and_figure(tmp_path: Path) -> None:
    sample = _clusters(0.3)
    points = tsne_2d(sample.features, seed=0, max_iter=250)
    assert points.shape == (100, 2) and np.isfinite(points).all()
    small = [tsne_2d(sample.features[:6], seed=0, max_iter=250) for _ in range(2)]
    assert small[0].shape == (6, 2)  # perplexity capped below N/3
    assert np.array_equal(small[0], small[1])  # seeded
    with pytest.raises(DataError, match="at least 4"):
        tsne_2d(sample.features[:3])
    panels = [
        EmbeddingPanel(title, points, sample.labels, cluster_indices(sample))
        for title in ("a", "b")
    ]
    names = ["w", "x", "y", "z"]
    path = plot_embeddings(
        panels, names, [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)], tmp_path / "t.png"
    )
    assert path.stat().st_size > 1000
    with Image.open(path) as picture:
        assert picture.size[0] > picture.size[1]  # two panels side by side
