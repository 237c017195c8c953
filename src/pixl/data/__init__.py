"""Datasets (Cityscapes, GTA5, SYNTHIA, DigitScenes, a user's own folder; each kind described
once in ``pixl.data.kinds``), transforms, rare class sampling, ClassMix.

A sample is ``{"image": FloatTensor[3, H, W] (ImageNet-normalised), "label": LongTensor[H, W]
(train ids, IGNORE_INDEX for void; absent when unlabelled), "name": str, "path": str}``; the
default collate turns samples into named batches.
"""

from pixl.data.augment import gaussian_blur, strong_augment
from pixl.data.dataset import SegmentationDataset, build_dataset
from pixl.data.descriptor import DatasetKind
from pixl.data.digits import generate_digit_scenes
from pixl.data.info import DatasetInfo
from pixl.data.kinds import KINDS, SPLITS, dataset_info, get_kind, is_prepared, prepare_dataset
from pixl.data.mixing import class_mix, class_mix_masks
from pixl.data.rcs import (
    RareClassDataset,
    RareClassSampler,
    RcsDraw,
    rare_class_sampling,
    rcs_class_probabilities,
)
from pixl.data.report import PrepareReport
from pixl.data.splits import SHIPPED_SPLITS, read_subset
from pixl.data.stats import ClassStats, class_stats_path, load_stats
from pixl.data.transforms import IMAGENET_MEAN, IMAGENET_STD, denormalize, renormalize

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "KINDS",
    "SHIPPED_SPLITS",
    "SPLITS",
    "ClassStats",
    "DatasetInfo",
    "DatasetKind",
    "PrepareReport",
    "RareClassDataset",
    "RareClassSampler",
    "RcsDraw",
    "SegmentationDataset",
    "build_dataset",
    "class_mix",
    "class_mix_masks",
    "class_stats_path",
    "dataset_info",
    "denormalize",
    "gaussian_blur",
    "generate_digit_scenes",
    "get_kind",
    "is_prepared",
    "load_stats",
    "prepare_dataset",
    "rare_class_sampling",
    "rcs_class_probabilities",
    "read_subset",
    "renormalize",
    "strong_augment",
]
