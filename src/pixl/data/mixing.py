"""ClassMix: paste half of each source image's classes onto a target image (DACS, per image)."""

from __future__ import annotations

import torch

from pixl.core import IGNORE_INDEX


def class_mix_masks(
    source_labels: torch.Tensor, *, generator: torch.Generator, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Per image, choose ceil(n/2) of its n present classes (ignore excluded) at random.

    Shape: source_labels [B, H, W] -> mask [B, H, W] bool (True = pasted from the source).
    """
    masks = []
    for label in source_labels:
        classes = torch.unique(label)
        classes = classes[classes != ignore_index]
        count = (len(classes) + 1) // 2
        order = torch.randperm(len(classes), generator=generator, device=generator.device)
        chosen = classes[order[:count].to(classes.device)]
        masks.append(torch.isin(label, chosen))
    return torch.stack(masks)


def class_mix(
    source_images: torch.Tensor,
    source_labels: torch.Tensor,
    target_images: torch.Tensor,
    pseudo_labels: torch.Tensor,
    pseudo_weights: torch.Tensor,
    *,
    generator: torch.Generator,
    ignore_index: int = IGNORE_INDEX,
) -> dict[str, torch.Tensor]:
    """Mix source into target: image, label and weight (1 inside the mask, pseudo outside).

    Shape: source_images, target_images [B, 3, H, W]; source_labels, pseudo_labels [B, H, W];
    pseudo_weights [B] or [B, H, W] -> {"image": [B, 3, H, W], "label": [B, H, W] long,
    "weight": [B, H, W] float, "mask": [B, H, W] bool}.
    """
    mask = class_mix_masks(source_labels, generator=generator, ignore_index=ignore_index)
    weights = pseudo_weights.to(target_images.dtype)
    if weights.dim() == 1:
        weights = weights.view(-1, 1, 1).expand_as(pseudo_labels)
    image = torch.where(mask.unsqueeze(1), source_images, target_images)
    label = torch.where(mask, source_labels, pseudo_labels).long()
    weight = torch.where(mask, torch.ones_like(weights), weights)
    return {"image": image, "label": label, "weight": weight, "mask": mask}
