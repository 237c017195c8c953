import pytest
import torch
import torch.nn.functional as F

from pixl.models import Box

from .tiny import MIT, NUM_CLASSES, SIZE, tiny_model


def assert_every_parameter_learns(model):
    silent = [
        name
        for name, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.any(p.grad != 0))
    ]
    assert not silent, f"no gradient reaches {silent[:5]} ({len(silent)} in all)"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def without_zero_init(model):
    """timm's ResNets start each residual branch with a zero BN scale, which makes the branch's
    gradient exactly zero at step 0; a unit scale lets the check see every connection."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(module.weight)
    return model


def targets(batch, size):
    return torch.randint(
        NUM_CLASSES, (batch, size, size), generator=torch.Generator().manual_seed(0)
    )


@pytest.mark.parametrize("key", ["daformer", "daformer-timm", "deeplabv3plus"])
def test_every_parameter_of_a_segmentor_gets_a_gradient(key, images):
    model = without_zero_init(tiny_model(key, dropout=0.0)).train()
    out = model(images)
    loss = F.cross_entropy(out.logits, targets(2, SIZE // 4)) + out.deep_features.mean()
    loss.backward()
    assert_every_parameter_learns(model)


def test_every_parameter_of_hrda_gets_a_gradient():
    # 128 px: at 64 px the half-size context gives MiT a single key token per stage (after its
    # spatial reduction), so attention is constant and its queries get no gradient.
    model = tiny_model("hrda", base_options={**MIT, "dropout": 0.0}).train()
    images = torch.randn(2, 3, 2 * SIZE, 2 * SIZE)
    out = model.forward_box(images, Box(32, 16, 64, 64))
    labels = targets(2, SIZE // 2)
    loss = F.cross_entropy(out.fused_logits, labels)
    loss = loss + 0.1 * F.cross_entropy(out.detail.logits, labels[:, 8:24, 4:20])
    loss.backward()
    assert_every_parameter_learns(model)
