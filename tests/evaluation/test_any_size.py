"""`pixl predict` and `pixl eval` on frames whose sides are no multiple of the model's."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from pixl.evaluation import evaluate
from pixl.evaluation.runner import predict_files
from pixl.models import create_model

from .fakes import fake_config, write_fake_cityscapes


def deeplab() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("deeplabv3plus", 19, encoder="resnet18", embed_dim=32).eval()


def test_predict_and_eval_on_odd_sizes(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(photos / "odd.png"), rng.integers(0, 256, (75, 101, 3), dtype=np.uint8))
    config = fake_config(write_fake_cityscapes(tmp_path / "cs", per_split=1), resize=None)
    model = deeplab()
    (written,) = predict_files(model, config, photos, tmp_path / "out", "trainid", weights="w")
    assert np.asarray(Image.open(written)).shape == (75, 101)

    images = torch.randn(2, 3, 75, 101)
    labels = torch.randint(0, 19, (2, 75, 101))
    report = evaluate(model, [{"image": images, "label": labels}], num_classes=19)
    assert report.num_images == 2 and 0.0 <= report.pixel_accuracy <= 1.0
