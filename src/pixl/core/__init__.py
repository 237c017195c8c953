"""Pixel learning core: entropy, partition, prototypes, adaptive selection, drift alignment.

Imports torch only (docs/design.md, "Layers"). The names below are the public contract described
there under "The core contract".
"""

from pixl.core.alignment import drift_alignment_terms
from pixl.core.constants import IGNORE_INDEX
from pixl.core.entropy import pixel_entropy
from pixl.core.labels import labels_to_feature_resolution
from pixl.core.loss import PiXLLoss, PiXLResult, PiXLStats, pixl_loss, pixl_loss_with_stats
from pixl.core.partition import masked_quantile, partition_pixels, random_subset
from pixl.core.prototypes import class_feature_sums, normalise_prototypes
from pixl.core.schedule import eta_at
from pixl.core.selection import median_of_present, select_from_low

__all__ = [
    "IGNORE_INDEX",
    "PiXLLoss",
    "PiXLResult",
    "PiXLStats",
    "class_feature_sums",
    "drift_alignment_terms",
    "eta_at",
    "labels_to_feature_resolution",
    "masked_quantile",
    "median_of_present",
    "normalise_prototypes",
    "partition_pixels",
    "pixel_entropy",
    "pixl_loss",
    "pixl_loss_with_stats",
    "random_subset",
    "select_from_low",
]
