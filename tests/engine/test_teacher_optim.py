"""EMA teacher arithmetic and the warmup + poly learning-rate schedule."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from pixl.config.schema import OptimConfig
from pixl.engine.optim import build_optimizer, build_scheduler, lr_factor
from pixl.engine.teacher import EMATeacher, ema_alpha, ema_update


def test_alpha_ramps_up_then_caps() -> None:
    assert ema_alpha(0, 0.999) == 0.0
    assert ema_alpha(1, 0.999) == 0.5
    assert ema_alpha(9, 0.999) == pytest.approx(0.9)
    assert ema_alpha(100_000, 0.999) == 0.999


def test_update_averages_parameters_and_float_buffers_and_copies_counters() -> None:
    torch.manual_seed(0)
    student = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    teacher = EMATeacher(student, max_alpha=0.9)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    student(torch.randn(2, 3, 5, 5))  # train mode: BN statistics and counter move
    teacher.update(student, step=100)  # alpha 0.9
    now, source = teacher.state_dict(), student.state_dict()
    for name in ("0.weight", "1.running_mean", "1.running_var"):
        expected = 0.9 * before[name] + 0.1 * source[name]
        assert torch.allclose(now[name], expected), name
    assert int(now["1.num_batches_tracked"]) == int(source["1.num_batches_tracked"]) == 1
    assert not teacher.module.training
    assert all(not p.requires_grad for p in teacher.module.parameters())


def test_ema_update_at_alpha_zero_is_a_copy() -> None:
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    ema_update(a, b, 0.0)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_lr_schedule_warmup_then_poly() -> None:
    config = OptimConfig(warmup_steps=10, warmup_ratio=1e-6, poly_power=1.0)
    assert lr_factor(0, 100, config) == pytest.approx(1e-6)
    assert lr_factor(5, 100, config) == pytest.approx(0.95 * (1 - 0.5 * (1 - 1e-6)))
    assert lr_factor(10, 100, config) == pytest.approx(0.9)
    assert lr_factor(50, 100, config) == pytest.approx(0.5)
    assert lr_factor(100, 100, config) == 0.0


def test_groups_keep_their_multiplied_rates_under_the_scheduler() -> None:
    config = OptimConfig(lr=1e-3, head_lr_mult=10, warmup_steps=0)
    encoder, head = nn.Linear(2, 2), nn.Linear(2, 2)
    groups = [
        {"name": "encoder", "params": encoder.parameters(), "lr": 1e-3, "weight_decay": 0.01},
        {"name": "head", "params": head.parameters(), "lr": 1e-2, "weight_decay": 0.0},
    ]
    optimizer = build_optimizer(groups, config)
    scheduler = build_scheduler(optimizer, 4, config)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-3, 1e-2])
    for _ in range(2):
        optimizer.step()
        scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([5e-4, 5e-3])
    assert optimizer.defaults["betas"] == (0.9, 0.999)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]


def _groups(model: nn.Module) -> list[dict]:
    first, second = model[0], model[2]
    return [
        {"name": "encoder", "params": first.parameters(), "lr": 1e-2, "weight_decay": 0.01},
        {"name": "head", "params": second.parameters(), "lr": 1e-1, "weight_decay": 0.0},
    ]


def test_fused_adamw_matches_the_per_tensor_loop() -> None:
    config = OptimConfig(lr=1e-2, warmup_steps=0)
    torch.manual_seed(0)
    fused_model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    loop_model = copy.deepcopy(fused_model)
    start = copy.deepcopy(fused_model)
    fused = build_optimizer(_groups(fused_model), config)
    loop = torch.optim.AdamW(
        _groups(loop_model), lr=config.lr, betas=config.betas, foreach=False, fused=False
    )
    assert fused.defaults["fused"] is True
    schedulers = [build_scheduler(opt, 20, config) for opt in (fused, loop)]
    inputs, targets = torch.randn(32, 6), torch.randint(0, 3, (32,))
    for _ in range(10):
        for model, opt in ((fused_model, fused), (loop_model, loop)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(inputs), targets).backward()
            opt.step()
        for scheduler in schedulers:
            scheduler.step()
    for a, b, s in zip(
        fused_model.parameters(), loop_model.parameters(), start.parameters(), strict=True
    ):
        assert (a - s).abs().max() > 1e-3  # trained, not a vacuous equality
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_foreach_ema_equals_the_two_step_average() -> None:
    torch.manual_seed(0)
    student = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 2, 1))
    teacher = EMATeacher(student, max_alpha=0.999)
    reference = copy.deepcopy(teacher.module)
    for step in range(1, 30):
        with torch.no_grad():
            for p in student.parameters():
                p.add_(torch.randn_like(p))
        student(torch.randn(2, 3, 6, 6))
        alpha = teacher.update(student, step)
        with torch.no_grad():
            for (_, ref), (_, src) in zip(
                [*reference.named_parameters(), *reference.named_buffers()],
                [*student.named_parameters(), *student.named_buffers()],
                strict=True,
            ):
                if ref.is_floating_point():
                    ref.mul_(alpha).add_(src, alpha=1 - alpha)
                else:
                    ref.copy_(src)
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(teacher.state_dict()[name], value, rtol=1e-6, atol=1e-6)
