"""Visualisation: palettes, overlays, prediction grids, t-SNE of pixel features with cluster indices."""

from pixl.visualization.embedding import (
    EmbeddingPanel,
    PixelSample,
    cluster_indices,
    collect_pixel_features,
    plot_embeddings,
    sample_class_pixels,
    tsne_2d,
)
from pixl.visualization.overlay import (
    PredictionRow,
    overlay,
    plot_prediction_grid,
    to_rgb,
)
from pixl.visualization.palette import colorize, palette_lut

__all__ = [
    "EmbeddingPanel",
    "PixelSample",
    "PredictionRow",
    "cluster_indices",
    "collect_pixel_features",
    "colorize",
    "overlay",
    "palette_lut",
    "plot_embeddings",
    "plot_prediction_grid",
    "sample_class_pixels",
    "to_rgb",
    "tsne_2d",
]
