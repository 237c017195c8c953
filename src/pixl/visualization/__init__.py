"""Visualisation: palettes, overlays, class legends, prediction grids, t-SNE of pixel features
with cluster indices."""

from pixl.visualization.embedding import (
    EmbeddingPanel,
    PixelSample,
    cluster_indices,
    collect_pixel_features,
    plot_embeddings,
    sample_class_pixels,
    tsne_2d,
)
from pixl.visualization.legend import classes_present, legend_strip, with_legend
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
    "classes_present",
    "cluster_indices",
    "collect_pixel_features",
    "colorize",
    "legend_strip",
    "overlay",
    "palette_lut",
    "plot_embeddings",
    "plot_prediction_grid",
    "sample_class_pixels",
    "to_rgb",
    "tsne_2d",
    "with_legend",
]
