import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from pixl.models import Box, HRDAOutput, fuse_scales, sample_detail_box

from .tiny import NUM_CLASSES, SIZE, tiny_model


def outside(box: Box, size: int, stride: int = 4) -> torch.Tensor:
    mask = torch.ones(size // stride, size // stride, dtype=torch.bool)
    mask[box.top // stride : (box.top + box.height) // stride,
         box.left // stride : (box.left + box.width) // stride] = False  # fmt: skip
    return mask


@given(
    height=st.integers(8, 300),
    width=st.integers(8, 300),
    fraction=st.sampled_from([0.25, 0.5, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_detail_box_lies_on_the_grid_inside_the_image(height, width, fraction, seed):
    box = sample_detail_box(
        height, width, fraction=fraction, generator=torch.Generator().manual_seed(seed)
    )
    assert box.top % 8 == 0 and box.left % 8 == 0
    assert box.height % 8 == 0 or box.height == height
    assert box.top + box.height <= max(height, 8) and box.left + box.width <= max(width, 8)
    if height >= 16:
        assert box.height == int(height * fraction) // 8 * 8 or box.height == 8


def test_detail_box_is_reproducible_and_varies():
    boxes = [
        sample_detail_box(512, 1024, generator=torch.Generator().manual_seed(s)) for s in (0, 0)
    ]
    assert boxes[0] == boxes[1] and boxes[0].height == 256 and boxes[0].width == 512
    drawn = {
        sample_detail_box(512, 1024, generator=torch.Generator().manual_seed(s)) for s in range(20)
    }
    assert len(drawn) > 1


def test_fuse_scales_by_hand():
    context = torch.randn(1, 3, 4, 4)
    detail = torch.randn(1, 3, 4, 4)
    attention = torch.full((1, 3, 4, 4), 0.25)
    box = Box(top=8, left=16, height=16, width=16)  # cells rows 2..6, cols 4..8 on the 8x8 grid
    fused, att = fuse_scales(context, detail, attention, box, (8, 8))
    up = F.interpolate(context, size=(8, 8), mode="bilinear", align_corners=False)
    inside = (..., slice(2, 6), slice(4, 8))
    torch.testing.assert_close(fused[inside], 0.25 * detail + 0.75 * up[inside])
    off = outside(box, 32)
    assert torch.equal(fused[..., off], up[..., off])
    assert torch.all(att[..., off] == 0) and torch.allclose(att[inside], torch.tensor(0.25))


def test_fuse_scales_refuses_off_grid_boxes():
    with pytest.raises(ValueError, match="grid"):
        fuse_scales(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 2, 2),
                    Box(2, 0, 4, 4), (4, 4))  # fmt: skip


@pytest.mark.parametrize("key", ["hrda", "hrda-deeplab"])
def test_forward_box_fuses_context_outside_the_box(key, images):
    model = tiny_model(key).eval()
    box = Box(top=8, left=24, height=32, width=32)
    with torch.no_grad():
        out = model.forward_box(images, box)
    assert isinstance(out, HRDAOutput) and out.box == box
    grid = SIZE // 4
    assert out.fused_logits.shape == out.attention.shape == (2, NUM_CLASSES, grid, grid)
    assert out.context.logits.shape == (2, NUM_CLASSES, grid // 2, grid // 2)
    assert out.detail.logits.shape == (2, NUM_CLASSES, 8, 8)
    up = F.interpolate(out.context.logits, size=(grid, grid), mode="bilinear", align_corners=False)
    off = outside(box, SIZE)
    assert torch.equal(out.fused_logits[..., off], up[..., off])
    assert torch.all(out.attention[..., off] == 0)
    inside = out.attention[..., 2:10, 6:14]
    assert torch.all((inside > 0) & (inside < 1))


def test_forward_box_depends_only_on_the_box_passed(images):
    model = tiny_model("hrda").eval()
    first, second = Box(0, 0, 32, 32), Box(32, 32, 32, 32)
    with torch.no_grad():
        a = model.forward_box(images, first)
        model.forward_box(images, second)
        again = model.forward_box(images, first)
    torch.testing.assert_close(a.fused_logits, again.fused_logits)
    # The detail branch sees exactly the crop: same as running the base on it.
    with torch.no_grad():
        direct = model.base(images[..., 0:32, 0:32])
    torch.testing.assert_close(a.detail.logits, direct.logits)


def test_inference_slides_the_detail_branch(images):
    model = tiny_model("hrda").eval()
    with torch.no_grad():
        out = model(images)
        detail = model.slide_detail(images)
    assert out.logits.shape == (2, NUM_CLASSES, 16, 16)
    torch.testing.assert_close(out.features, detail.features)
    # Cells covered by a single window hold that window's values; the corner window is [0:32].
    with torch.no_grad():
        corner = model.base(images[..., 0:32, 0:32])
    torch.testing.assert_close(detail.logits[..., :4, :4], corner.logits[..., :4, :4])


def test_boxes_outside_the_crop_are_refused(images):
    model = tiny_model("hrda")
    for box in (Box(48, 0, 32, 32), Box(-8, 0, 32, 32)):
        with pytest.raises(ValueError, match="exceeds"):
            model.forward_box(images, box)
