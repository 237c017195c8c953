"""AdamW parameter groups: encoder at ``lr``, decoder and heads at ``lr * head_lr_mult``; no weight
decay for normalisation layers and position blocks (DAFormer's ``paramwise_cfg``)."""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _NormBase

NO_DECAY_NAMES = ("pos_block", "pos_embed", "norm")
NORM_TYPES = (_NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


def _no_decay_names(model: nn.Module) -> set[str]:
    names = set()
    for module_name, module in model.named_modules():
        for param_name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}" if module_name else param_name
            if isinstance(module, NORM_TYPES) or any(k in full for k in NO_DECAY_NAMES):
                names.add(full)
    return names


def param_groups(
    model: nn.Module, *, lr: float, weight_decay: float, head_lr_mult: float = 10.0
) -> list[dict]:
    """Up to four groups (encoder/head x decay/no-decay), each with ``name``, ``lr``,
    ``weight_decay`` and ``params``; frozen parameters are left out. The encoder is
    ``model.encoder`` (``SegmentationModel``, ``pixl.models.contract``)."""
    encoder_ids = {id(p) for p in model.encoder.parameters()}
    no_decay = _no_decay_names(model)
    groups: dict[str, dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        part = "encoder" if id(param) in encoder_ids else "head"
        decays = name not in no_decay
        key = f"{part}{'' if decays else '_no_decay'}"
        group = groups.setdefault(
            key,
            {
                "name": key,
                "lr": lr if part == "encoder" else lr * head_lr_mult,
                "weight_decay": weight_decay if decays else 0.0,
                "params": [],
            },
        )
        group["params"].append(param)
    return list(groups.values())
