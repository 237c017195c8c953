"""The mean (EMA) teacher of self-training (docs/design.md, "The baseline PiXL builds on").

``alpha_t = min(1 - 1/(t+1), alpha)``; parameters and floating buffers are averaged, integer
buffers (BatchNorm's batch counter) copied. The teacher runs in eval mode, never takes gradients and
stays outside DDP (the trainer moves it with ``fabric.to_device`` only).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import Tensor, nn


def ema_alpha(step: int, max_alpha: float) -> float:
    """The averaging weight of the teacher at optimisation step ``step`` (0-based)."""
    return min(1.0 - 1.0 / (step + 1), max_alpha)


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, alpha: float) -> None:
    """``teacher <- alpha * teacher + (1 - alpha) * student`` for parameters and float buffers.

    One ``torch._foreach_lerp_`` over all float tensors (``t + (1 - alpha) * (s - t)``; equal to
    the two-step form to float rounding, about half its time); integer buffers are copied.
    """
    student_state = _tensors(student)
    targets: list[Tensor] = []
    sources: list[Tensor] = []
    for name, value in _tensors(teacher).items():
        source = student_state[name].detach()
        if value.is_floating_point():
            targets.append(value)
            sources.append(source.to(value.dtype))
        else:
            value.copy_(source)
    if targets:
        torch._foreach_lerp_(targets, sources, 1.0 - alpha)


def _tensors(module: nn.Module) -> dict[str, Tensor]:
    named = dict(module.named_parameters())
    named.update(dict(module.named_buffers()))
    return named


class EMATeacher:
    """A frozen, eval-mode copy of the student updated by :func:`ema_update` after each step."""

    def __init__(self, student: nn.Module, max_alpha: float = 0.999) -> None:
        self.module = copy.deepcopy(student)
        self.module.eval()
        self.module.requires_grad_(False)
        self.max_alpha = max_alpha

    def update(self, student: nn.Module, step: int) -> float:
        """Average the student in; returns the alpha used."""
        alpha = ema_alpha(step, self.max_alpha)
        ema_update(self.module, student, alpha)
        return alpha

    def state_dict(self) -> dict[str, Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        self.module.load_state_dict(state)
        self.module.eval()
