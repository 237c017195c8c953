"""Activation checkpointing (``model.activation_checkpointing``): recompute in backward instead of
keeping activations, as mmseg's ``with_cp``, with exact gradients.

Each encoder block (MiT's ``block1..4``, ResNet's ``layer1..4``, timm's ``blocks``/``stages``
entries; the whole encoder where none is found) and each decoder (the segmentor's, HRDA's scale
attention's) keeps only its inputs in the forward pass and runs again in backward
(``torch.utils.checkpoint``, ``use_reentrant=False``). The recomputation replays the forward's
RNG state (dropout, drop path) and autocast state, and restores the module's buffers afterwards,
so BatchNorm's running statistics are updated once per forward, as without checkpointing.
Gradients, outputs and buffers equal those without it; only memory and time change. Without
gradients (the teacher, evaluation) a marked module runs as usual.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

_BLOCK_CONTAINER = re.compile(r"^(block|layer)\d+$|^blocks$|^stages$")
_SUBCLASSES: dict[type[nn.Module], type[nn.Module]] = {}


@contextmanager
def _buffers_restored(module: nn.Module) -> Iterator[None]:
    """The module's buffers as they were on entry, whatever runs inside (the recomputation's
    BatchNorm update of its running statistics is undone)."""
    saved = [(b, b.detach().clone()) for b in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def _checkpointed_class(cls: type[nn.Module]) -> type[nn.Module]:
    """A subclass of ``cls`` whose forward is checkpointed when gradients are recorded."""
    if cls in _SUBCLASSES.values():
        return cls
    if cls not in _SUBCLASSES:

        def forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
            parent = super(subclass, self).forward  # type: ignore[misc]
            if not torch.is_grad_enabled():
                return parent(*args, **kwargs)

            def contexts() -> tuple[AbstractContextManager[None], AbstractContextManager[None]]:
                return nullcontext(), _buffers_restored(self)

            return checkpoint(parent, *args, use_reentrant=False, context_fn=contexts, **kwargs)

        subclass = type(cls.__name__, (cls,), {"forward": forward, "__module__": cls.__module__})
        subclass.__qualname__ = cls.__qualname__
        _SUBCLASSES[cls] = subclass
    return _SUBCLASSES[cls]


def checkpoint_module(module: nn.Module) -> None:
    """Recompute ``module``'s forward in backward from now on (its parameters, buffers and
    state-dict keys stay as they are; only its class becomes a checkpointed subclass)."""
    module.__class__ = _checkpointed_class(type(module))


def is_checkpointed(module: nn.Module) -> bool:
    return type(module) in _SUBCLASSES.values()


def encoder_blocks(encoder: nn.Module) -> list[nn.Module]:
    """The encoder's repeated blocks: the entries of its containers named ``block<i>``,
    ``layer<i>``, ``blocks`` or ``stages`` (MiT, ResNet, timm), outermost only (a timm stage's
    own ``blocks`` are inside it); the encoder itself if there are none.
    """
    found: dict[str, nn.Module] = {}
    for name, container in encoder.named_modules():
        if not isinstance(container, nn.Sequential | nn.ModuleList):
            continue
        if not _BLOCK_CONTAINER.match(name.rsplit(".", 1)[-1]):
            continue
        if any(name.startswith(f"{outer}.") for outer in found):
            continue
        for index, block in enumerate(container):
            found[f"{name}.{index}"] = block
    return list(found.values()) or [encoder]


def checkpoint_encoders_and_decoders(encoders: list[nn.Module], decoders: list[nn.Module]) -> int:
    """Checkpoint every block of ``encoders`` and every module of ``decoders`` as a whole;
    returns how many modules are checkpointed."""
    modules = [block for encoder in encoders for block in encoder_blocks(encoder)] + decoders
    for module in modules:
        checkpoint_module(module)
    return len(modules)
