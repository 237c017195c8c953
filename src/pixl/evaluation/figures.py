"""Config-driven figures: prediction grids and t-SNE embeddings of one or two checkpoints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from torch.utils.data import DataLoader, Subset

from pixl.config import ExperimentConfig
from pixl.data import dataset_info
from pixl.errors import ConfigError
from pixl.evaluation.inference import check_num_classes, predict_labels
from pixl.evaluation.runner import InferenceSettings, split_dataset
from pixl.visualization import (
    EmbeddingPanel,
    PredictionRow,
    cluster_indices,
    collect_pixel_features,
    plot_embeddings,
    plot_prediction_grid,
    to_rgb,
    tsne_2d,
)


@dataclass(frozen=True)
class NamedModel:
    """A loaded model and the name it has in titles and errors (usually its checkpoint path)."""

    name: str
    model: nn.Module


def prediction_grid(
    named: NamedModel,
    config: ExperimentConfig,
    path: Path,
    *,
    num_images: int = 4,
    split: str | None = None,
    settings: InferenceSettings | None = None,
) -> Path:
    """A PNG of the first ``num_images`` images of the val split: image | ground truth | prediction,
    with the legend of the classes they show."""
    if num_images < 1:
        raise ConfigError(f"the grid needs at least one image, got {num_images}")
    info = dataset_info(config.data.val.kind, config.data.val.root)
    check_num_classes(named.model, info.num_classes, named.name)
    settings = settings or InferenceSettings.from_config(config)
    dataset = split_dataset(config.data.val, split)
    device = next(named.model.parameters()).device
    named.model.eval()
    rows = []
    for index in range(min(num_images, len(dataset))):
        sample = dataset[index]
        image = sample["image"][None].to(device)
        labels = predict_labels(
            named.model, image, mode=settings.mode, window=settings.window, stride=settings.stride
        )
        rows.append(
            PredictionRow(
                name=sample["name"],
                image=to_rgb(sample["image"]),
                label=sample["label"].numpy(),
                prediction=labels[0].cpu().numpy(),
            )
        )
    return plot_prediction_grid(rows, info.palette, path, class_names=info.class_names)


def embedding_figure(
    models: Sequence[NamedModel],
    config: ExperimentConfig,
    path: Path,
    *,
    per_class: int = 200,
    max_images: int = 20,
    seed: int = 0,
    split: str | None = None,
    tsne_iterations: int = 1000,
) -> dict[str, dict[str, float]]:
    """t-SNE of sampled pixel features per model, side by side (paper Fig. 5); the cluster indices
    of each model are returned and written as JSON beside the PNG (``<path>.json``)."""
    if per_class < 1 or max_images < 1 or tsne_iterations < 250:
        raise ConfigError(
            "embedding: per-class pixels and images must be >= 1 and t-SNE iterations >= 250, "
            f"got {per_class}, {max_images} and {tsne_iterations}"
        )
    info = dataset_info(config.data.val.kind, config.data.val.root)
    dataset = split_dataset(config.data.val, split)
    subset = Subset(dataset, range(min(max_images, len(dataset))))
    panels, indices = [], {}
    for named in models:
        check_num_classes(named.model, info.num_classes, named.name)
        sample = collect_pixel_features(
            named.model,
            DataLoader(subset, batch_size=1),
            num_classes=info.num_classes,
            per_class=per_class,
            seed=seed,
        )
        indices[named.name] = cluster_indices(sample)
        points = tsne_2d(sample.features, seed=seed, max_iter=tsne_iterations)
        panels.append(EmbeddingPanel(named.name, points, sample.labels, indices[named.name]))
    plot_embeddings(panels, info.class_names, info.palette, path)
    path.with_suffix(".json").write_text(json.dumps(indices, indent=2) + "\n")
    return indices
