"""The registry: names, options and their errors; registration beside the builder. What every
registered model promises is checked in test_contract.py."""

import pytest
import torch

from pixl.errors import CheckpointError, ConfigError
from pixl.models import HRDA, create_model, list_models, model_options, register_model
from pixl.models import registry as registry_module

from .tiny import tiny_model


def test_list_models_has_the_three_architectures():
    assert {"daformer", "hrda", "deeplabv3plus"} <= set(list_models())
    assert list_models(single_scale=True) == ["daformer", "deeplabv3plus"]


def test_deep_features_are_the_last_encoder_stage(images):
    model = tiny_model("daformer").eval()
    with torch.no_grad():
        out = model(images)
        last = model.encoder(images)[-1]
    torch.testing.assert_close(out.deep_features, last)


def test_size_divisors():
    # DeepLab's decoder upsamples stride 16 by exactly 4; HRDA: 8-pixel detail grid, and the
    # base's multiple at the half-size context (16 / 0.5 = 32).
    assert tiny_model("daformer").size_divisor == 1
    assert tiny_model("deeplabv3plus").size_divisor == 16
    assert tiny_model("hrda").size_divisor == 8
    assert tiny_model("hrda-deeplab").size_divisor == 32


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


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"base": "hrda"}, "hrda.base"),
        ({"base": "segformer"}, "hrda.base"),
        ({"scale": 0}, "hrda.scale"),
        ({"scale": 1.5}, "hrda.scale"),
        ({"detail_crop": 0.0}, "hrda.detail_crop"),
        ({"detail_crop": 2}, "hrda.detail_crop"),
    ],
)
def test_bad_hrda_options_are_one_config_error_before_building(options, key, monkeypatch):
    built: list[str] = []
    real = registry_module.create_model
    monkeypatch.setattr(
        "pixl.models.hrda.create_model", lambda *a, **k: built.append(a[0]) or real(*a, **k)
    )
    with pytest.raises(ConfigError, match=key) as info:
        create_model("hrda", 3, base_options={"encoder": "mit_b0"}, **options)
    assert "\n" not in str(info.value) and not built  # checked once, before the base is built


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


@pytest.fixture
def scratch_registry(monkeypatch):
    """The registry as it is, restored after the test (registering is global)."""
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))


def test_a_registered_builder_is_listed_with_its_options(scratch_registry):
    @register_model("tiny-daformer")
    def build(num_classes: int, *, embed_dim: int = 16) -> torch.nn.Module:
        return create_model("daformer", num_classes, encoder="mit_b0", embed_dim=embed_dim)

    assert "tiny-daformer" in list_models() and "tiny-daformer" not in list_models(
        single_scale=True
    )
    assert model_options("tiny-daformer") == {"embed_dim": 16}
    assert create_model("tiny-daformer", 3, embed_dim=8).feature_dim == 8


def test_a_name_registers_once(scratch_registry):
    with pytest.raises(ValueError, match="registered twice"):
        register_model("daformer")(lambda num_classes: torch.nn.Identity())


def test_a_builder_that_breaks_the_contract_is_refused(scratch_registry):
    register_model("identity")(lambda num_classes: torch.nn.Identity())
    with pytest.raises(TypeError, match="contract"):
        create_model("identity", 3)
