"""AdamW with the DAFormer/HRDA schedule: linear warmup then polynomial decay (mmseg's convention).

``lr(t) = base_lr * (1 - t/T)^power``, multiplied during warmup (t < W) by
``1 - (1 - t/W) * (1 - warmup_ratio)`` so it starts at ``warmup_ratio * lr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

from pixl.config.schema import OptimConfig


def lr_factor(step: int, max_steps: int, config: OptimConfig) -> float:
    """The multiplier of every group's base learning rate at ``step``."""
    progress = min(step, max_steps) / max_steps
    factor = (1.0 - progress) ** config.poly_power
    if step < config.warmup_steps:
        factor *= 1.0 - (1.0 - step / config.warmup_steps) * (1.0 - config.warmup_ratio)
    return factor


def build_optimizer(
    param_groups: Sequence[dict[str, Any]], config: OptimConfig
) -> torch.optim.AdamW:
    """AdamW over groups that already carry their own ``lr`` and ``weight_decay``.

    The fused implementation (one kernel over all tensors; CPU and GPU) where every parameter's
    device has it: same update as the per-tensor loop to float rounding, and several times faster
    on a small CPU model (benchmarks/results/speed.md).
    """
    groups = [{**group, "params": list(group["params"])} for group in param_groups]
    devices = {p.device.type for g in groups for p in g["params"]}
    fused = devices <= _FUSED_DEVICES or None
    return torch.optim.AdamW(
        groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, fused=fused
    )


_FUSED_DEVICES = {"cpu", "cuda", "mps", "xpu"}


def build_scheduler(
    optimizer: torch.optim.Optimizer, max_steps: int, config: OptimConfig
) -> LambdaLR:
    """Per-step scheduler (call ``step()`` once per training step)."""
    return LambdaLR(optimizer, lambda step: lr_factor(step, max_steps, config))
