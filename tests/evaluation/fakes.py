"""Test doubles shared by the evaluation, visualisation and CLI tests: a tiny fake Cityscapes
folder (official layout, label ids converted by ``pixl.data.prepare_dataset``) and a tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from cityscapesscripts.helpers.labels import labels as cityscapes_labels
from torch import Tensor, nn

from pixl.config import ExperimentConfig, config_from_dict
from pixl.data import prepare_dataset
from pixl.models import SegmentationOutput

LABEL_IDS = [label.id for label in cityscapes_labels if label.id >= 0]  # 0..33, void included
SIZE = (64, 128)  # height, width


def instance_ids(label: np.ndarray) -> np.ndarray:
    """The official ``*_gtFine_instanceIds.png`` encoding (16-bit): ``id * 1000 + k`` for the
    pixels of classes with instances (one instance per 8x8 block here), the label id elsewhere."""
    ids = label.astype(np.int32)
    has_instances = np.isin(label, [lab.id for lab in cityscapes_labels if lab.hasInstances])
    rows, cols = np.indices(label.shape)
    blocks = rows // 8 * (label.shape[1] // 8) + cols // 8
    return np.where(has_instances, ids * 1000 + blocks, ids).astype(np.uint16)


def write_fake_cityscapes(root: Path, *, per_split: int = 2, seed: int = 0) -> Path:
    """Random images, blocky random label ids (every id, void too) and their instance ids, then
    prepared."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for index in range(per_split):
            city = "aachen" if index % 2 == 0 else "bonn"
            stem = f"{city}_{index:06d}_{19 + index:06d}"
            image_dir = root / "leftImg8bit" / split / city
            label_dir = root / "gtFine" / split / city
            image_dir.mkdir(parents=True, exist_ok=True)
            label_dir.mkdir(parents=True, exist_ok=True)
            image = rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)
            blocks = rng.choice(LABEL_IDS, size=(SIZE[0] // 8, SIZE[1] // 8)).astype(np.uint8)
            label = np.kron(blocks, np.ones((8, 8), dtype=np.uint8))
            cv2.imwrite(str(image_dir / f"{stem}_leftImg8bit.png"), image)
            cv2.imwrite(str(label_dir / f"{stem}_gtFine_labelIds.png"), label)
            cv2.imwrite(str(label_dir / f"{stem}_gtFine_instanceIds.png"), instance_ids(label))
    prepare_dataset("cityscapes", root, workers=1)
    return root


def fake_config(
    root: Path,
    *,
    resize: tuple[int, int] | None = (32, 64),
    kind: str = "cityscapes",
    **eval_: Any,
) -> ExperimentConfig:
    """A supervised config on the fake folder; a tiny DAFormer (mit_b0, 32-d embedding)."""
    split = "val" if kind == "cityscapes" else "target_val"
    val: dict[str, Any] = {"kind": kind, "root": str(root), "split": split}
    if resize is not None:
        val["resize"] = list(resize)
    labelled = {**val, "split": "train" if kind == "cityscapes" else "source_train"}
    model = {"name": "daformer", "options": {"encoder": "mit_b0", "embed_dim": 32}}
    return config_from_dict(
        {
            "name": "fake",
            "task": "supervised",
            "data": {"labelled": labelled, "val": val},
            "eval": eval_,
            "model": model,
        }
    )


class PatchSegmentor(nn.Module):
    """A real, tiny segmentor: a 4x4 stride-4 patch embedding, then a 1x1 classifier.

    Random weights of a large scale make its predictions spread over many classes. A
    ``pixl.models.Predictor`` (what evaluation needs), not a registered model.
    """

    size_divisor = 1  # the patch embedding takes any size

    def __init__(self, num_classes: int, feature_dim: int = 8, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.embed = nn.Conv2d(3, feature_dim, kernel_size=4, stride=4)
        self.classifier = nn.Conv2d(feature_dim, num_classes, kernel_size=1)
        with torch.no_grad():
            self.classifier.weight.mul_(20)

    def forward(self, images: Tensor) -> SegmentationOutput:
        features = torch.tanh(self.embed(images))
        return SegmentationOutput(logits=self.classifier(features), features=features)


def write_weights(
    directory: Path, config: ExperimentConfig, *, trainer_checkpoint: bool = False
) -> Path:
    """A tiny model of ``config`` saved as the engine saves it: exported safetensors (with
    config.yaml beside) or a trainer checkpoint (.pt)."""
    from pixl.engine.build import build_model
    from pixl.engine.checkpoint import CheckpointManager, config_dict, export_weights

    torch.manual_seed(0)
    model = build_model(config)
    if trainer_checkpoint:
        state = {"step": 1, "config": config_dict(config), "model": model.state_dict()}
        return CheckpointManager(directory, keep_last=1).save(state, 1)
    return export_weights(model, config, directory)
