"""Pseudo-labels: argmax, confident-fraction weight per image, margins ignored."""

from __future__ import annotations

import torch

from pixl.config.schema import Margins
from pixl.core import IGNORE_INDEX
from pixl.engine.tasks.pseudo import (
    margin_pixels,
    pseudo_labels_from_probs,
    teacher_pseudo_labels,
)
from pixl.models import create_model, predict_logits


def test_weight_is_the_confident_fraction_per_image() -> None:
    probs = torch.full((2, 3, 4, 4), 0.1)
    probs[:, 0] = 0.8
    probs[0, :, :2] = torch.tensor([0.02, 0.97, 0.01]).view(3, 1, 1)  # top half confident, class 1
    out = pseudo_labels_from_probs(probs, threshold=0.968, margins=Margins())
    assert out.labels[0, 0, 0] == 1 and out.labels[0, 3, 0] == 0
    assert torch.allclose(out.weight[0], torch.full((4, 4), 0.5))
    assert torch.equal(out.weight[1], torch.zeros(4, 4))


def test_margins_scale_with_the_height_and_are_ignored() -> None:
    margins = Margins(top=30, bottom=240, left=30, right=30, reference_height=1024)
    assert margin_pixels(1024, margins) == (30, 240, 30, 30)
    assert margin_pixels(512, margins) == (15, 120, 15, 15)
    probs = torch.zeros(1, 2, 64, 64)
    probs[:, 1] = 1.0
    small = Margins(top=2, bottom=3, left=1, right=4, reference_height=64)
    out = pseudo_labels_from_probs(probs, threshold=0.5, margins=small)
    ignored = out.labels == IGNORE_INDEX
    assert ignored[0, :2].all() and ignored[0, -3:].all()
    assert ignored[0, :, :1].all() and ignored[0, :, -4:].all()
    assert not ignored[0, 2:-3, 1:-4].any()
    assert (out.weight[ignored] == 0).all() and (out.weight[~ignored] == 1).all()


def test_pixel_mask_ignores_the_unconfident_pixels() -> None:
    probs = torch.full((1, 3, 4, 4), 0.1)
    probs[:, 0] = 0.8  # unconfident background everywhere ...
    probs[0, :, :1] = torch.tensor([0.02, 0.97, 0.01]).view(3, 1, 1)  # ... but a confident row
    out = pseudo_labels_from_probs(
        probs, threshold=0.968, margins=Margins(), weighting="pixel_mask"
    )
    assert torch.equal(out.labels[0, 0], torch.ones(4, dtype=torch.long))
    assert (out.labels[0, 1:] == IGNORE_INDEX).all()
    assert torch.equal(out.weight[0, 0], torch.ones(4)) and (out.weight[0, 1:] == 0).all()


def test_teacher_pseudo_labels_on_a_size_the_model_refuses() -> None:
    torch.manual_seed(0)
    teacher = create_model("deeplabv3plus", 5, encoder="resnet18", embed_dim=32).eval()
    images = torch.randn(2, 3, 75, 101)
    pseudo = teacher_pseudo_labels(teacher, images, 0.0, Margins(), "pixel_mask")
    assert pseudo.labels.shape == pseudo.weight.shape == (2, 75, 101)
    expected = predict_logits(teacher, images).argmax(1)
    assert torch.equal(pseudo.labels, expected)


def test_margins_belong_to_the_frame_not_the_crop() -> None:
    margins = Margins(top=2, bottom=3, left=1, right=4, reference_height=64)
    probs = torch.zeros(3, 2, 64, 64)
    probs[:, 1] = 1.0
    # Crops of a 64x128 frame: the middle, the left edge, the left edge mirrored.
    boxes = torch.tensor([[0, 32, 64, 128, 0], [0, 0, 64, 128, 0], [0, 0, 64, 128, 1]])
    out = pseudo_labels_from_probs(probs, 0.5, margins, frame_boxes=boxes)
    ignored = out.labels == IGNORE_INDEX
    rows = torch.zeros(64, dtype=torch.bool)
    rows[:2] = rows[-3:] = True
    middle = rows[:, None].expand(64, 64)
    assert torch.equal(ignored[0], middle)  # no column of the frame's margins in the middle
    left = middle.clone()
    left[:, :1] = True
    assert torch.equal(ignored[1], left)
    assert torch.equal(ignored[2], left.flip(-1))  # the frame's left edge is now on the right
    assert (out.weight[ignored] == 0).all()
    # Without frame boxes each crop is its own frame (the margins of the crop, scaled).
    alone = pseudo_labels_from_probs(probs[:1], 0.5, margins).labels == IGNORE_INDEX
    assert alone[0, :, -4:].all() and not alone[0, 2:-3, 1:-4].any()
