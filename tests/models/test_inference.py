import pytest
import torch
from torch import nn

from pixl.models import Predictor, SegmentationOutput, predict_logits
from pixl.models.contract import satisfies

from .tiny import NUM_CLASSES, SIZE, contract_cases, tiny_model


class PointwiseModel(nn.Module):
    """A per-pixel model at stride 4 (average pool + 1x1 conv): sliding must not change it.
    A ``Predictor``, which is all inference needs."""

    num_classes = NUM_CLASSES
    size_divisor = 1

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, NUM_CLASSES, 1)

    def forward(self, images):
        features = nn.functional.avg_pool2d(images, 4)
        return SegmentationOutput(self.conv(features), features)


@pytest.mark.parametrize("key", ["daformer", "hrda", "deeplabv3plus"])
def test_slide_equals_whole_when_one_window_covers_the_image(key, images):
    model = tiny_model(key).eval()
    whole = predict_logits(model, images, mode="whole")
    slide = predict_logits(model, images, mode="slide", window=(SIZE, SIZE), stride=(32, 32))
    assert whole.shape == (2, NUM_CLASSES, SIZE, SIZE)
    torch.testing.assert_close(slide, whole)


def test_overlapping_windows_average_to_the_whole_prediction():
    torch.manual_seed(0)
    model = PointwiseModel()
    images = torch.randn(3, 3, 64, 96)
    whole = predict_logits(model, images, mode="whole")
    # Windows on the stride-4 grid: bilinear upsampling inside each window then matches the whole
    # image except within half a cell of window borders, which the check leaves out.
    slide = predict_logits(model, images, mode="slide", window=(32, 48), stride=(16, 16))
    torch.testing.assert_close(
        slide[..., 4:-4, 4:-4][..., ::8, ::8], whole[..., 4:-4, 4:-4][..., ::8, ::8]
    )


def test_slide_is_batched_image_by_image(images):
    model = tiny_model("daformer").eval()
    together = predict_logits(model, images, mode="slide", window=(32, 32))
    alone = torch.cat(
        [predict_logits(model, im[None], mode="slide", window=(32, 32)) for im in images]
    )
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_inference_keeps_no_graph(images):
    model = tiny_model("daformer")
    assert not predict_logits(model, images).requires_grad


def test_slide_without_window_is_refused(images):
    with pytest.raises(ValueError, match="window"):
        predict_logits(PointwiseModel(), images, mode="slide")
    with pytest.raises(ValueError, match="mode"):
        predict_logits(PointwiseModel(), images, mode="tiles")


@pytest.mark.parametrize("key", ["daformer", "hrda", "deeplabv3plus"])
def test_windows_stacked_into_batched_calls_equal_one_call_per_window(key):
    model = tiny_model(key).eval()
    images = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    calls: list[int] = []
    model.register_forward_pre_hook(lambda _, args: calls.append(args[0].shape[0]))
    one_by_one = predict_logits(model, images, mode="slide", window=(64, 64), window_batch=1)
    assert calls == [2] * 6  # 2 x 3 windows, each a call over the 2 images
    calls.clear()
    stacked = predict_logits(model, images, mode="slide", window=(64, 64), window_batch=8)
    assert calls == [8, 4]  # 4 + 2 windows of the 2 images
    torch.testing.assert_close(stacked, one_by_one, rtol=1e-4, atol=1e-5)
    assert torch.equal(stacked.argmax(1), one_by_one.argmax(1))


def test_the_pointwise_double_is_a_predictor():
    assert satisfies(PointwiseModel(), Predictor)


@pytest.mark.parametrize("key", contract_cases())
@pytest.mark.parametrize("size", [(75, 101), (97, 66)])
def test_inference_on_odd_sizes_pads_and_crops_back(key, size):
    model = tiny_model(key).eval()
    images = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    multiple = model.size_divisor
    if multiple > 1:  # the model itself refuses these sizes
        with pytest.raises(ValueError, match="divisible"):
            model(images)
    whole = predict_logits(model, images)
    assert whole.shape == (2, NUM_CLASSES, *size) and torch.isfinite(whole).all()
    slide = predict_logits(model, images, mode="slide", window=(64, 64), window_batch=4)
    assert slide.shape == whole.shape and torch.isfinite(slide).all()
    # The kept part is the prediction on the zero-padded image: padding adds no other change.
    pad_h, pad_w = -size[0] % multiple, -size[1] % multiple
    padded = torch.nn.functional.pad(images, (0, pad_w, 0, pad_h))
    direct = predict_logits(model, padded)[..., : size[0], : size[1]]
    torch.testing.assert_close(whole, direct)
