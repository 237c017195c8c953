"""The mean (EMA) teacher of self-training (docs/design.md, "The baseline PiXL builds on").

``alpha_t = min(1 - 1/(t+1), alpha)``; parameters and floating buffers are averaged, integer
buffers (BatchNorm's batch counter) copied. The teacher runs in eval mode, never takes gradients and
stays outside DDP (the trainer moves it with ``fabric.to_device`` only).
``self_training.teacher_norm: train`` runs its BatchNorm on batch statistics while it makes
pseudo-labels (:func:`batch_statistics`), as DACS / HRDA's teacher does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm


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


def _batch_statistics_forward(norm: _BatchNorm):
    """``norm``'s forward on the batch's statistics, leaving its buffers untouched."""

    def forward(x: Tensor) -> Tensor:
        one_value = x.numel() // x.shape[1] <= 1
        if one_value and norm.running_mean is not None:
            # One value per channel has no variance (ASPP's pooled 1x1 map at batch 1): a
            # train-mode BN would raise, so this layer keeps its running statistics.
            return F.batch_norm(
                x, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps
            )
        # No running tensors given: batch statistics, and nothing is written back.
        return F.batch_norm(x, None, None, norm.weight, norm.bias, True, 0.0, norm.eps)

    return forward


@contextmanager
def batch_statistics(module: nn.Module) -> Iterator[nn.Module]:
    """Inside the block, every BatchNorm of ``module`` normalises with the current batch's
    statistics (DACS / HRDA's teacher, ``self_training.teacher_norm: train``); everything else keeps
    its mode (an eval-mode teacher keeps dropout and drop-path off), and no buffer changes: the
    running statistics stay the EMA of the student's, bit for bit.

    A BatchNorm that sees one value per channel (DeepLabV3+'s ASPP image pooling at batch 1) uses
    its running statistics for that call instead, so batch 1 works.
    """
    norms = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    for norm in norms:
        norm.forward = _batch_statistics_forward(norm)  # type: ignore[method-assign]
    try:
        yield module
    finally:
        for norm in norms:
            del norm.forward
