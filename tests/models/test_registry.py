import pytest
import torch

from pixl.errors import CheckpointError, ConfigError
from pixl.models import HRDA, SegmentationOutput, create_model, list_models, model_options

from .tiny import NUM_CLASSES, SIZE, TINY, tiny_model


def test_list_models_has_the_three_architectures():
    assert {"daformer", "hrda", "deeplabv3plus"} <= set(list_models())


@pytest.mark.parametrize("key", sorted(TINY))
def test_output_shapes(key, images):
    model = tiny_model(key).eval()
    with torch.no_grad():
        out = model(images)
    assert isinstance(out, SegmentationOutput)
    grid = (2, SIZE // 4, SIZE // 4)
    assert out.logits.shape == (grid[0], NUM_CLASSES, *grid[1:])
    assert out.features.shape == (grid[0], model.feature_dim, *grid[1:])
    assert out.deep_features is not None and out.deep_features.shape[0] == 2
    assert model.num_classes == NUM_CLASSES
    assert isinstance(model.encoder, torch.nn.Module)


def test_deep_features_are_the_last_encoder_stage(images):
    model = tiny_model("daformer").eval()
    with torch.no_grad():
        out = model(images)
        last = model.encoder(images)[-1]
    torch.testing.assert_close(out.deep_features, last)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ConfigError, match="deeplabv3plus"):
        create_model("segformer", 3)


def test_unknown_option_lists_valid_options():
    with pytest.raises(ConfigError, match="embed_dim") as info:
        create_model("daformer", 3, encoder="mit_b0", heads=2)
    assert "heads" in str(info.value)


def test_unknown_hrda_base_option_is_refused():
    with pytest.raises(ConfigError, match="dropout"):
        create_model("hrda", 3, base_options={"encoder": "mit_b0", "drop": 0.2})


def test_unknown_encoder_is_a_config_error():
    with pytest.raises(ConfigError, match="encoder"):
        create_model("daformer", 3, encoder="not_an_encoder")


def test_hrda_defaults_and_options():
    defaults = model_options("hrda")
    assert defaults["base"] == "daformer" and defaults["scale"] == 0.5
    assert defaults["detail_crop"] == 0.5
    assert model_options("daformer")["encoder"] == "mit_b5"
    assert model_options("deeplabv3plus")["encoder"] == "resnet101"
    assert create_model("daformer", 3, encoder="mit_b0").feature_dim == 256
    model = create_model("hrda", 3, base_options={"encoder": "mit_b0", "embed_dim": 32})
    assert isinstance(model, HRDA) and model.feature_dim == 32


def test_imagenet_weights_offline_fail_in_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError) as info:
        create_model("daformer", 3, encoder="mit_b0", encoder_weights="imagenet")
    message = str(info.value)
    assert "\n" not in message and "mit_b0" in message and "local" in message


def test_deeplab_refuses_sides_not_divisible_by_16():
    model = tiny_model("deeplabv3plus")
    with pytest.raises(ValueError, match="divisible by 16"):
        model(torch.zeros(1, 3, 40, 64))
