import pytest
import torch

from pixl.core import IGNORE_INDEX
from pixl.data import dataset_info
from pixl.models import (
    FeatureDistance,
    build_encoder,
    masked_distance,
    thing_mask,
)

SIZE = 64  # mit_b0's last stage is then a 2x2 grid of 32x32 cells
THINGS = dataset_info("cityscapes").thing_classes  # the labels below use Cityscapes train ids


def labels_with_things() -> torch.Tensor:
    """Image 0: top-left cell all person (11), top-right 80 % car (13) + 20 % ignore, bottom
    cells road (0) / 70 % rider (12). Image 1: no thing at all."""
    labels = torch.zeros(2, SIZE, SIZE, dtype=torch.long)
    labels[0, :32, :32] = 11
    labels[0, :32, 32:] = 13
    labels[0, :32, 32 : 32 + 6] = IGNORE_INDEX
    labels[0, 32:, 32:] = 12
    labels[0, 32:, 32:42] = 0  # rider covers 22/32 < 75 %
    labels[1] = 2
    return labels


def test_thing_mask_follows_the_ratio():
    mask = thing_mask(labels_with_things(), (2, 2), (11, 12, 13))
    expected = torch.tensor([[[True, True], [False, False]], [[False, False], [False, False]]])
    assert torch.equal(mask, expected)
    assert not thing_mask(labels_with_things(), (2, 2), (11, 12, 13), ratio=0.85)[0, 0, 1]


def test_masked_distance_is_zero_not_nan_on_an_empty_mask():
    student = torch.randn(1, 4, 2, 2, requires_grad=True)
    value = masked_distance(
        student, torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.bool)
    )
    assert value.item() == 0.0
    value.backward()
    assert torch.equal(student.grad, torch.zeros_like(student))


@pytest.fixture(scope="module")
def fd_and_student():
    torch.manual_seed(0)
    student = build_encoder("mit_b0").eval()
    return FeatureDistance.from_encoder(student, thing_classes=THINGS), student


def test_zero_for_identical_encoders(fd_and_student):
    fd, student = fd_and_student
    images = torch.randn(2, 3, SIZE, SIZE)
    deep = student(images)[-1]
    assert fd(images, labels_with_things(), deep).item() == 0.0


def test_only_thing_cells_count(fd_and_student):
    fd, student = fd_and_student
    images = torch.randn(2, 3, SIZE, SIZE)
    deep = student(images)[-1].detach()
    labels = labels_with_things()
    shifted = deep.clone()
    shifted[0, :, 1, :] += 3.0  # bottom cells of image 0: road / too little rider
    shifted[1] += 3.0  # image 1 has no thing
    assert fd(images, labels, shifted).item() == 0.0
    moved = deep.clone().requires_grad_(True)
    with torch.no_grad():
        moved[0, 0, 0, 0] += 2.0
    loss = fd(images, labels, moved)
    # One of the two thing cells is off by exactly 2: mean distance 1, times the weight.
    torch.testing.assert_close(loss, torch.tensor(0.005 * 1.0))
    loss.backward()
    assert moved.grad[0, :, 1].abs().sum() == 0 and moved.grad[1].abs().sum() == 0


def test_empty_mask_gives_a_connected_zero(fd_and_student):
    fd, _ = fd_and_student
    images = torch.randn(1, 3, SIZE, SIZE)
    deep = torch.randn(1, 256, 2, 2, requires_grad=True)
    loss = fd(images, torch.full((1, SIZE, SIZE), IGNORE_INDEX), deep)
    assert loss.item() == 0.0 and not torch.isnan(loss)
    loss.backward()
    assert deep.grad is not None


def test_reference_encoder_is_frozen_and_stays_in_eval(fd_and_student):
    fd, student = fd_and_student
    fd.train()
    assert not fd.encoder.training
    assert all(not p.requires_grad for p in fd.encoder.parameters())
    assert fd.encoder is not student and student.patch_embed1.proj.weight.requires_grad


def test_mismatched_student_features_are_refused(fd_and_student):
    fd, _ = fd_and_student
    with pytest.raises(ValueError, match="do not match"):
        fd(torch.randn(1, 3, SIZE, SIZE), torch.zeros(1, SIZE, SIZE, dtype=torch.long),
           torch.zeros(1, 256, 4, 4))  # fmt: skip


def test_constructor_builds_the_named_encoder_and_checks_classes():
    fd = FeatureDistance("mit_b0", weights=None, thing_classes=[6, 7, 11])
    assert fd.weight == 0.005 and fd.ratio == 0.75 and fd.thing_classes == (6, 7, 11)
    with pytest.raises(ValueError, match="ignore_index"):
        FeatureDistance("mit_b0", weights=None, thing_classes=(1, IGNORE_INDEX))


def test_hrda_context_features_feed_fd(images):
    from .tiny import tiny_model

    model = tiny_model("hrda").eval()
    fd = FeatureDistance.from_encoder(model.encoder, thing_classes=THINGS)
    labels = torch.full((2, SIZE, SIZE), 13)
    with torch.no_grad():
        out = model.forward_train(images, torch.Generator().manual_seed(0))
    # The context branch saw the downscaled crop; the full-resolution labels are pooled to its grid.
    assert out.low_images.shape[-1] == SIZE // 2
    loss = fd(out.low_images, labels, out.low.deep_features)
    assert loss.item() == 0.0
