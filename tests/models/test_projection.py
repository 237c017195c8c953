"""The projection head as a model part: features projected, logits untouched, contract kept."""

import torch

from pixl.models import (
    ProjectionHead,
    SegmentationModel,
    WithProjection,
    param_groups,
    with_projection,
)
from pixl.models.contract import satisfies

from .tiny import NUM_CLASSES, SIZE, tiny_model


def test_features_have_projection_dim_and_logits_are_the_models() -> None:
    base = tiny_model("daformer").eval()
    model = with_projection(base, 24).eval()
    assert satisfies(model, SegmentationModel) and model.feature_dim == 24
    images = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out, plain = model(images), base(images)
    assert out.features.shape == (2, 24, SIZE // 4, SIZE // 4)
    assert torch.equal(out.logits, plain.logits)
    assert torch.equal(out.features, model.projection(plain.features))
    assert isinstance(model.projection, ProjectionHead)
    layers = [type(m).__name__ for m in model.projection]
    assert layers == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]


def test_hrda_context_and_detail_both_go_through_the_head() -> None:
    model = with_projection(tiny_model("hrda"), 16).train()
    images = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    out = model.forward_train(images, torch.Generator().manual_seed(2))
    assert out.high is not None and out.box is not None
    assert out.low.features.shape[1] == out.high.features.shape[1] == 16
    assert out.logits.shape == (2, NUM_CLASSES, SIZE // 4, SIZE // 4)
    assert out.low.logits.shape[1] == NUM_CLASSES  # the classifier still reads the decoder's 64-d


def test_head_parameters_are_in_the_head_group() -> None:
    model = with_projection(tiny_model("deeplabv3plus"), 8)
    groups = param_groups(model, lr=1.0, weight_decay=0.01, head_lr_mult=10.0)
    head_ids = {id(p) for p in model.projection.parameters()}
    by_name = {g["name"]: {id(p) for p in g["params"]} for g in groups}
    assert head_ids <= by_name["head"] | by_name["head_no_decay"]
    assert not head_ids & (by_name["encoder"] | by_name.get("encoder_no_decay", set()))
    # The BatchNorm's weight and bias take no weight decay.
    norm_ids = {id(p) for p in model.projection[1].parameters()}
    assert norm_ids <= by_name["head_no_decay"]
    assert isinstance(model, WithProjection)
