"""The model contract (``pixl.models.contract``) on every registered model and variant of
``tiny.TINY``: a new model is tested here by registering it and adding its tiny options."""

import pytest
import torch
from torch import nn

from pixl.models import (
    ModelBase,
    Predictor,
    SegmentationModel,
    SegmentationOutput,
    TrainOutput,
    list_models,
    param_groups,
    set_activation_checkpointing,
)
from pixl.models.contract import satisfies

from .tiny import NUM_CLASSES, SIZE, TINY, contract_cases, tiny_model

CASES = contract_cases()


def test_every_registered_model_has_tiny_options():
    assert set(list_models()) <= set(TINY), "add the missing models to TINY in tests/models/tiny.py"
    assert set(list_models()) == {name for name, _ in TINY.values()}


@pytest.mark.parametrize("key", CASES)
def test_satisfies_the_contract(key):
    model = tiny_model(key)
    assert satisfies(model, SegmentationModel) and satisfies(model, Predictor)
    assert isinstance(model, ModelBase)
    assert model.num_classes == NUM_CLASSES
    assert isinstance(model.feature_dim, int) and model.feature_dim > 0
    assert isinstance(model.size_divisor, int) and model.size_divisor >= 1
    assert SIZE % model.size_divisor == 0  # the tests' images fit every model
    assert isinstance(model.encoder, nn.Module)
    assert model.feature_distance_weights is None  # tiny models start from random weights


@pytest.mark.parametrize("key", CASES)
def test_forward_returns_a_segmentation_output(key, images):
    model = tiny_model(key).eval()
    with torch.no_grad():
        out = model(images)
    assert isinstance(out, SegmentationOutput)
    grid = (SIZE // 4, SIZE // 4)
    assert out.logits.shape == (2, NUM_CLASSES, *grid)
    assert out.features.shape == (2, model.feature_dim, *grid)
    assert out.deep_features is not None and out.deep_features.shape[0] == 2


@pytest.mark.parametrize("key", CASES)
def test_forward_train_returns_a_train_output(key, images):
    model = tiny_model(key).train()
    out = model.forward_train(images, torch.Generator().manual_seed(0))
    assert isinstance(out, TrainOutput) and isinstance(out.low, SegmentationOutput)
    assert out.logits.shape == (2, NUM_CLASSES, SIZE // 4, SIZE // 4)
    assert out.low.features.shape[:2] == (2, model.feature_dim)
    assert out.low.deep_features is not None
    assert out.low_images.shape[:2] == (2, 3)
    assert out.low.logits.shape[-2:] == tuple(s // 4 for s in out.low_images.shape[-2:])
    assert (out.high is None) == (out.box is None)  # a detail branch comes with its box
    if out.high is not None and out.box is not None:
        assert out.high.logits.shape == (2, NUM_CLASSES, out.box.height // 4, out.box.width // 4)
        assert out.high.features.shape[1] == model.feature_dim
    out.logits.mean().backward()  # the pass is differentiable end to end


@pytest.mark.parametrize("key", CASES)
def test_inputs_must_be_multiples_of_size_divisor(key):
    model = tiny_model(key).eval()
    divisor = model.size_divisor
    if divisor == 1:  # any size goes
        with torch.no_grad():
            assert model(torch.zeros(1, 3, SIZE + 2, SIZE - 6)).logits.shape[:2] == (1, NUM_CLASSES)
        return
    off = torch.zeros(1, 3, SIZE + divisor // 2, SIZE)
    with pytest.raises(ValueError, match=f"divisible by {divisor}"):
        model(off)
    with pytest.raises(ValueError, match=f"divisible by {divisor}"):
        model(off.transpose(-1, -2))


@pytest.mark.parametrize("key", CASES)
@pytest.mark.parametrize("shape", [(2, 1, SIZE, SIZE), (3, SIZE, SIZE), (1, 4, SIZE, SIZE)])
def test_images_not_b3hw_are_refused(key, shape):
    model = tiny_model(key).eval()
    with pytest.raises(ValueError, match=r"expected images \[B, 3, H, W\]"):
        model(torch.zeros(shape))
    if len(shape) == 4:
        with pytest.raises(ValueError, match=r"expected images \[B, 3, H, W\]"):
            model.forward_train(torch.zeros(shape), torch.Generator().manual_seed(0))


@pytest.mark.parametrize("key", CASES)
def test_parameter_groups_split_encoder_and_head(key):
    model = tiny_model(key)
    groups = param_groups(model, lr=1e-3, weight_decay=0.01, head_lr_mult=10.0)
    listed = [id(p) for g in groups for p in g["params"]]
    assert sorted(listed) == sorted(id(p) for p in model.parameters() if p.requires_grad)
    assert len(set(listed)) == len(listed)  # each parameter in exactly one group
    encoder = {id(p) for g in groups if g["name"].startswith("encoder") for p in g["params"]}
    assert encoder == {id(p) for p in model.encoder.parameters()}
    by_name = {g["name"]: g for g in groups}
    assert {"encoder", "head"} <= set(by_name)
    assert by_name["encoder"]["lr"] == 1e-3 and by_name["head"]["lr"] == pytest.approx(1e-2)
    torch.optim.AdamW(groups)  # accepted as is


@pytest.mark.parametrize("key", CASES)
def test_activation_checkpointing_keeps_the_state_dict(key):
    model = tiny_model(key)
    keys = list(model.state_dict())
    assert set_activation_checkpointing(model) > 0 and list(model.state_dict()) == keys
