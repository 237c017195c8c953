"""The training pass in the model contract: ``forward_train(images, generator) -> TrainOutput``."""

from pathlib import Path

import pytest
import torch

from pixl.models import TrainOutput, build_encoder, create_model, sample_detail_box

from .tiny import NUM_CLASSES, SIZE, TINY, tiny_model


@pytest.mark.parametrize("key", ["daformer", "deeplabv3plus"])
def test_single_scale_training_pass_is_the_forward_and_draws_nothing(key, images):
    model = tiny_model(key).eval()
    generator = torch.Generator().manual_seed(3)
    before = generator.get_state()
    with torch.no_grad():
        out = model.forward_train(images, generator)
        plain = model(images)
    assert isinstance(out, TrainOutput)
    assert out.high is None and out.box is None and out.low_images is images
    assert torch.equal(out.logits, plain.logits) and torch.equal(out.low.logits, plain.logits)
    assert torch.equal(generator.get_state(), before)


@pytest.mark.parametrize("key", ["hrda", "hrda-deeplab"])
def test_hrda_draws_its_box_from_the_generator_as_sample_detail_box_does(key, images):
    model = tiny_model(key).eval()
    generator = torch.Generator().manual_seed(11)
    expected_box = sample_detail_box(
        SIZE,
        SIZE,
        fraction=model.detail_crop,
        divisor=8,
        generator=torch.Generator().manual_seed(11),
    )
    with torch.no_grad():
        out = model.forward_train(images, generator)
        boxed = model.forward_box(images, expected_box)
    assert out.box == expected_box
    # Exactly two draws (top, left): the next draw is the one a fresh stream makes third.
    reference = torch.Generator().manual_seed(11)
    torch.randint(2, (1,), generator=reference), torch.randint(2, (1,), generator=reference)
    assert torch.equal(torch.rand(4, generator=generator), torch.rand(4, generator=reference))
    assert torch.equal(out.logits, boxed.fused_logits)
    assert out.high is not None and torch.equal(out.high.logits, boxed.detail.logits)
    assert torch.equal(out.low.logits, boxed.context.logits)
    assert out.low_images.shape == (2, 3, SIZE // 2, SIZE // 2)
    assert out.logits.shape == (2, NUM_CLASSES, SIZE // 4, SIZE // 4)


def test_models_name_the_encoder_weights_their_feature_distance_compares_against(tmp_path: Path):
    assert tiny_model("daformer").feature_distance_weights is None
    assert tiny_model("hrda").feature_distance_weights is None
    weights = tmp_path / "resnet18.pth"
    torch.save(build_encoder("resnet18").state_dict(), weights)
    single = create_model("deeplabv3plus", NUM_CLASSES, encoder="resnet18", encoder_weights=weights)
    assert single.feature_distance_weights == weights
    _, options = TINY["hrda-deeplab"]
    base = {**options["base_options"], "encoder_weights": str(weights)}
    hrda = create_model("hrda", NUM_CLASSES, **{**options, "base_options": base})
    assert hrda.feature_distance_weights == str(weights)
