"""Pixel-feature embeddings: per-class sampling, t-SNE, cluster indices and plots (paper Fig. 5).

Cluster quality is measured in the feature space itself (not on the 2-D t-SNE map, whose distances
are not meaningful): Calinski-Harabasz (larger = better separated) and Davies-Bouldin (smaller =
more compact), both from scikit-learn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixl.core import IGNORE_INDEX, labels_to_feature_resolution
from pixl.errors import DataError
from pixl.visualization.overlay import plt, save_figure
from pixl.visualization.palette import Palette


@dataclass(frozen=True)
class PixelSample:
    """Sampled pixel features and their classes. features [N, D] float32, labels [N] int64."""

    features: np.ndarray
    labels: np.ndarray


def sample_class_pixels(
    features: Tensor,
    labels: Tensor,
    *,
    per_class: int,
    generator: torch.Generator,
    ignore_index: int = IGNORE_INDEX,
) -> tuple[Tensor, Tensor]:
    """Draw up to ``per_class`` random valid pixels of every class present (without replacement).

    Shape: features [B, D, h, w], labels [B, h, w] (same h, w) -> ([N, D], [N]).
    """
    if features.shape[-2:] != labels.shape[-2:]:
        raise ValueError(f"features {features.shape} and labels {labels.shape} differ in size")
    flat_features = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])
    flat_labels = labels.reshape(-1)
    # A random key per pixel; sorting (class, key) puts each class's pixels in random order.
    keys = torch.rand(flat_labels.numel(), generator=generator).to(flat_labels.device)
    valid = torch.nonzero(flat_labels != ignore_index).squeeze(1)
    order = valid[torch.argsort(keys[valid])]
    order = order[torch.argsort(flat_labels[order], stable=True)]
    sorted_labels = flat_labels[order]
    _, counts = torch.unique_consecutive(sorted_labels, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(order.numel(), device=order.device) - starts.repeat_interleave(counts)
    keep = order[rank < per_class]
    return flat_features[keep], flat_labels[keep]


@torch.inference_mode()
def collect_pixel_features(
    model: nn.Module,
    batches: Iterable[Mapping[str, Tensor]],
    *,
    num_classes: int,
    per_class: int = 200,
    seed: int = 0,
    normalize: bool = True,
    ignore_index: int = IGNORE_INDEX,
) -> PixelSample:
    """Run ``model`` over labelled batches and keep ``per_class`` seeded random pixels per class.

    ``normalize`` L2-normalises each feature first (the space PiXL's alignment works in).
    The features are the model's ``features``: with ``pixl.projection: head`` the projected
    embedding, which is the one PiXL aligns, so that is the right space to look at.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    chunks: list[tuple[Tensor, Tensor]] = []
    try:
        for batch in batches:
            features = model(batch["image"].to(device)).features.float()
            labels = labels_to_feature_resolution(
                batch["label"].to(device), tuple(features.shape[-2:]), num_classes, ignore_index
            )
            if normalize:
                features = F.normalize(features, dim=1)
            x, y = sample_class_pixels(
                features,
                labels,
                per_class=per_class,
                generator=generator,
                ignore_index=ignore_index,
            )
            chunks.append((x.cpu(), y.cpu()))
    finally:
        model.train(was_training)
    if not chunks or sum(len(y) for _, y in chunks) == 0:
        raise DataError("no labelled pixels found to sample features from")
    features = torch.cat([x for x, _ in chunks])
    labels = torch.cat([y for _, y in chunks])
    # Every batch contributed up to per_class per class: draw the final per_class over the split.
    x, y = sample_class_pixels(
        features.T[None, :, :, None],
        labels[None, :, None],
        per_class=per_class,
        generator=generator,
    )
    return PixelSample(features=x.numpy().astype(np.float32), labels=y.numpy().astype(np.int64))


def cluster_indices(sample: PixelSample) -> dict[str, float]:
    """Calinski-Harabasz and Davies-Bouldin indices of the classes in feature space."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score  # slow import

    if len(np.unique(sample.labels)) < 2:
        raise DataError("cluster indices need pixels of at least two classes")
    return {
        "calinski_harabasz": float(calinski_harabasz_score(sample.features, sample.labels)),
        "davies_bouldin": float(davies_bouldin_score(sample.features, sample.labels)),
    }


def tsne_2d(
    features: np.ndarray, *, seed: int = 0, perplexity: float = 30.0, max_iter: int = 1000
) -> np.ndarray:
    """2-D t-SNE map (``max_iter`` >= 250). Shape: [N, D] -> [N, 2].

    Perplexity is capped below N/3 so that small samples work.
    """
    from sklearn.manifold import TSNE  # slow import (seconds); only the embedding command needs it

    if len(features) < 4:
        raise DataError(f"t-SNE needs at least 4 pixels, got {len(features)}")
    perplexity = min(perplexity, (len(features) - 1) / 3)
    tsne = TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=max_iter
    )
    return tsne.fit_transform(features.astype(np.float32))


@dataclass(frozen=True)
class EmbeddingPanel:
    """One panel of the figure: a title (e.g. the checkpoint), the 2-D map and the indices."""

    title: str
    points: np.ndarray
    labels: np.ndarray
    indices: Mapping[str, float]


def plot_embeddings(
    panels: Sequence[EmbeddingPanel],
    class_names: Sequence[str],
    palette: Palette,
    path: str | Path,
) -> Path:
    """Write a PNG with one t-SNE scatter per panel, coloured by class, CH / DB in the caption."""
    if not panels:
        raise ValueError("no embedding to plot")
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5.8), squeeze=False)
    colors = np.asarray(palette, dtype=np.float32) / 255.0
    for axis, panel in zip(axes[0], panels, strict=True):
        for class_id in np.unique(panel.labels):
            at = panel.labels == class_id
            axis.scatter(
                *panel.points[at].T, s=3, color=colors[class_id], label=class_names[class_id]
            )
        ch = panel.indices.get("calinski_harabasz", float("nan"))
        db = panel.indices.get("davies_bouldin", float("nan"))
        axis.set_title(f"{panel.title}\nCH {ch:.1f}   DB {db:.2f}", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    handles, names = axes[0][-1].get_legend_handles_labels()
    figure.legend(
        handles,
        names,
        loc="lower center",
        ncol=min(len(names), 10),
        fontsize=7,
        markerscale=3,
        frameon=False,
    )
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return save_figure(figure, path)
