"""Activation checkpointing: the same outputs, gradients and buffers as without it, in fp32 and
under bf16 autocast; state-dict keys unchanged; no recomputation without gradients."""

from __future__ import annotations

import copy

import pytest
import torch

from pixl.errors import ConfigError
from pixl.models import set_activation_checkpointing
from pixl.models.checkpointing import encoder_blocks, is_checkpointed

from .tiny import NUM_CLASSES, tiny_model


def train_pass(model: torch.nn.Module, images: torch.Tensor, autocast: bool = False):
    """One training pass (HRDA: one drawn detail box), CE on its logits plus a feature term,
    backward; returns the loss, the gradients and the buffers after it."""
    torch.manual_seed(3)  # dropout and drop path draw the same in both runs
    labels = torch.randint(0, NUM_CLASSES, (images.shape[0], *images.shape[-2:]))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = model.forward_train(images, torch.Generator().manual_seed(4))
        logits = torch.nn.functional.interpolate(
            out.logits, size=images.shape[-2:], mode="bilinear", align_corners=False
        )
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss = loss + out.low.features.float().square().mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    return loss.detach(), grads, buffers


@pytest.mark.parametrize("key", ["hrda", "deeplabv3plus"])
@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16"])
def test_checkpointed_gradients_equal_plain(key: str, autocast: bool, images: torch.Tensor) -> None:
    plain = tiny_model(key).train()
    checkpointed = copy.deepcopy(plain)
    count = set_activation_checkpointing(checkpointed)
    assert count > 4  # encoder blocks and decoders, not the model as one piece
    loss, grads, buffers = train_pass(plain, images, autocast)
    loss_cp, grads_cp, buffers_cp = train_pass(checkpointed, images, autocast)
    torch.testing.assert_close(loss_cp, loss, rtol=0, atol=0)
    assert grads.keys() == grads_cp.keys() and len(grads) > 50
    for name, grad in grads.items():
        torch.testing.assert_close(grads_cp[name], grad, rtol=1e-6, atol=1e-7, msg=name)
    # BatchNorm statistics are updated once per forward, not again by the recomputation.
    assert any("running_mean" in n for n in buffers)
    for name, buffer in buffers.items():
        torch.testing.assert_close(buffers_cp[name], buffer, rtol=0, atol=0, msg=name)


def test_checkpointing_marks_blocks_and_decoders_and_keeps_the_state_dict() -> None:
    model = tiny_model("hrda")
    keys = list(model.state_dict())
    set_activation_checkpointing(model)
    assert list(model.state_dict()) == keys
    blocks = encoder_blocks(model.encoder)
    assert len(blocks) == sum(model.encoder.depths)  # MiT: every block of its four stages
    assert all(is_checkpointed(b) for b in blocks)
    assert is_checkpointed(model.base.decoder) and is_checkpointed(model.attention_decoder)
    assert not is_checkpointed(model.encoder) and not is_checkpointed(model)
    teacher = copy.deepcopy(model)  # the EMA teacher copies the student
    assert is_checkpointed(teacher.base.decoder)


def test_checkpointing_runs_as_usual_without_gradients(images: torch.Tensor) -> None:
    plain = tiny_model("hrda").eval()
    checkpointed = copy.deepcopy(plain)
    set_activation_checkpointing(checkpointed)
    with torch.no_grad():
        torch.testing.assert_close(checkpointed(images).logits, plain(images).logits)


def test_checkpointing_refuses_a_model_it_does_not_know() -> None:
    with pytest.raises(ConfigError, match="activation_checkpointing"):
        set_activation_checkpointing(torch.nn.Conv2d(3, 3, 1))
