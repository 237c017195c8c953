"""The PiXL loss: partition, prototypes, adaptive selection and drift alignment (docs/design.md, "The core contract")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixl.core.alignment import drift_alignment_terms
from pixl.core.checks import check_eta, check_resolution, check_temperature
from pixl.core.constants import IGNORE_INDEX
from pixl.core.entropy import pixel_entropy
from pixl.core.partition import masked_quantile, random_subset
from pixl.core.prototypes import class_feature_sums, normalise_prototypes
from pixl.core.selection import select_from_low

Resolution = tuple[Tensor, Tensor, Tensor]
"""``(features [B,D,h,w], logits [B,C,h,w], labels [B,h,w])`` at one resolution."""
Anchors = Literal["drift", "all", "random"]
"""``drift``: the paper (joint pixels make prototypes, drift pixels are pulled); ``all``: the
symmetric ablation, every valid pixel makes the prototypes and is pulled; ``random``: the
count-matched control, joint pixels make the prototypes and a random subset of each image's valid
pixels, as many as its drift pixels, is pulled."""
ANCHORS: tuple[Anchors, ...] = ("drift", "all", "random")


@dataclass(frozen=True)
class PiXLStats:
    """What one PiXL evaluation did; tensors (0-d), so reading them is the only host sync."""

    joint_pixels: Tensor
    drift_pixels: Tensor
    anchors: Tensor
    prototypes: Tensor
    prototypes_from_high: Tensor

    def as_dict(self) -> dict[str, float]:
        return {name: float(value) for name, value in self.__dict__.items()}


@dataclass(frozen=True)
class PiXLResult:
    loss: Tensor
    stats: PiXLStats


@dataclass(frozen=True)
class _Flat:
    """One resolution flattened to the ``[B, D, N]`` layout (a view, no copy of the features)."""

    features: Tensor
    entropy: Tensor
    labels: Tensor
    valid: Tensor
    weight: Tensor | None = None


def _flatten(
    resolution: Resolution,
    compute_dtype: torch.dtype,
    ignore_index: int,
    weight: Tensor | None = None,
) -> _Flat:
    features, logits, labels = resolution
    batch = features.shape[0]
    flat_features = F.normalize(
        features.to(compute_dtype).reshape(batch, features.shape[1], -1), dim=1
    )
    probs = torch.softmax(
        logits.detach().to(compute_dtype).reshape(batch, logits.shape[1], -1), dim=1
    )
    flat_labels = labels.reshape(batch, -1)
    flat_weight = None if weight is None else weight.to(compute_dtype).reshape(batch, -1)
    return _Flat(
        flat_features,
        pixel_entropy(probs, dim=1),
        flat_labels,
        flat_labels != ignore_index,
        flat_weight,
    )


def _check_weight(name: str, weight: Tensor | None, resolution: Resolution | None) -> None:
    if weight is None:
        return
    if resolution is None:
        raise ValueError(f"{name}: given without its resolution")
    expected = tuple(resolution[2].shape)
    if tuple(weight.shape) != expected:
        raise ValueError(
            f"{name}: expected shape {expected} (the labels'), got {tuple(weight.shape)}"
        )


def pixl_loss_with_stats(
    low: Resolution,
    high: Resolution | None,
    *,
    num_classes: int,
    eta: float,
    temperature: float,
    adaptive_selection: bool = True,
    ignore_index: int = IGNORE_INDEX,
    low_weight: Tensor | None = None,
    high_weight: Tensor | None = None,
    anchors: Anchors = "drift",
) -> PiXLResult:
    """:func:`pixl_loss` together with its :class:`PiXLStats`.

    Shape: low/high = (features [B,D,h,w], logits [B,C,h,w], labels [B,h,w]) -> loss [] + stats
    """
    _check_weight("low_weight", low_weight, low)
    _check_weight("high_weight", high_weight, high)
    _check_anchors(anchors)
    check_eta(eta)
    check_temperature(temperature)
    check_resolution("low", low, num_classes, ignore_index)
    if high is not None:
        check_resolution("high", high, num_classes, ignore_index)
        if high[0].shape[:2] != low[0].shape[:2]:
            raise ValueError(
                f"high features: expected batch and channels {tuple(low[0].shape[:2])} as in low, "
                f"got {tuple(high[0].shape[:2])}"
            )
    out_dtype = low[0].dtype
    # Low-precision inputs are computed in float32 (and autocast is off) so entropies, the
    # quantile and the softmax over prototypes stay exact; float64 stays float64.
    compute_dtype = torch.promote_types(out_dtype, torch.float32)
    with torch.autocast(device_type=low[0].device.type, enabled=False):
        result = _pixl_loss(
            [
                _flatten(r, compute_dtype, ignore_index, w)
                for r, w in ((low, low_weight), (high, high_weight))
                if r is not None
            ],
            num_classes=num_classes,
            eta=eta,
            temperature=temperature,
            adaptive_selection=adaptive_selection and high is not None,
            anchors=anchors,
        )
    return PiXLResult(result.loss.to(out_dtype), result.stats)


def _check_anchors(anchors: str) -> None:
    if anchors not in ANCHORS:
        raise ValueError(f"anchors: expected one of {list(ANCHORS)}, got {anchors!r}")


def _pixl_loss(
    resolutions: list[_Flat],
    *,
    num_classes: int,
    eta: float,
    temperature: float,
    adaptive_selection: bool,
    anchors: Anchors = "drift",
) -> PiXLResult:
    if anchors == "all":
        # The symmetric ablation: no split, every valid pixel is a source and an anchor (the
        # stats then count every valid pixel as joint and as drift).
        joint = [r.valid for r in resolutions]
        drift = joint
    else:
        # Eq. (8)-(9): one threshold per image over its valid pixels of all resolutions pooled.
        entropy = torch.cat([r.entropy for r in resolutions], dim=1)
        valid = torch.cat([r.valid for r in resolutions], dim=1)
        threshold = masked_quantile(entropy, valid, 1.0 - eta)[:, None]
        joint = [r.valid & (r.entropy < threshold) for r in resolutions]
        drift = [r.valid & (r.entropy >= threshold) for r in resolutions]
        if anchors == "random":
            # Same count per image as the drift set, drawn over all its valid pixels of both
            # resolutions pooled, whatever their entropy: "which anchors" without "how many".
            counts = sum(d.sum(dim=1) for d in drift)
            pooled = random_subset(valid, counts)
            sizes = [r.valid.shape[1] for r in resolutions]
            drift = list(pooled.split(sizes, dim=1))

    # Eq. (10), (13): prototypes from detached joint features (the asymmetric stop-gradient).
    sums, counts = zip(
        *(
            class_feature_sums(r.features.detach(), r.labels, j, num_classes)
            for r, j in zip(resolutions, joint, strict=True)
        ),
        strict=True,
    )
    present = torch.stack(counts).sum(dim=0) > 0
    if adaptive_selection:
        from_low = select_from_low(counts[0], counts[1])
        prototypes = torch.where(
            from_low[:, None], normalise_prototypes(sums[0]), normalise_prototypes(sums[1])
        )
        from_high = (present & ~from_low).sum()
    else:
        prototypes = normalise_prototypes(torch.stack(sums).sum(dim=0))
        from_high = torch.zeros((), dtype=torch.long, device=present.device)

    # Eq. (11)-(12): drift pixels of a class with a prototype are pulled towards it.
    total = torch.zeros((), dtype=resolutions[0].features.dtype, device=present.device)
    anchors = torch.zeros((), dtype=total.dtype, device=present.device)
    for r, d in zip(resolutions, drift, strict=True):  # at most two resolutions
        has_prototype = present[torch.where(d, r.labels, torch.zeros_like(r.labels)).long()]
        term, count = drift_alignment_terms(
            r.features, r.labels, d & has_prototype, prototypes, present, temperature, r.weight
        )
        total = total + term
        anchors = anchors + count
    # With no anchor, total is an exact 0 that is still connected to the features' graph.
    loss = total / anchors.clamp(min=1)
    stats = PiXLStats(
        joint_pixels=sum(j.sum() for j in joint),
        drift_pixels=sum(d.sum() for d in drift),
        anchors=anchors.detach(),
        prototypes=present.sum(),
        prototypes_from_high=from_high,
    )
    return PiXLResult(loss, stats)


def pixl_loss(
    low: Resolution,
    high: Resolution | None,
    *,
    num_classes: int,
    eta: float,
    temperature: float,
    adaptive_selection: bool = True,
    ignore_index: int = IGNORE_INDEX,
    low_weight: Tensor | None = None,
    high_weight: Tensor | None = None,
    anchors: Anchors = "drift",
) -> Tensor:
    """The PiXL drift-alignment loss of a group of B images (docs/design.md, "The core contract").

    Per image, valid pixels of both resolutions are split by entropy into joint and drift pixels;
    class prototypes are the normalised means of joint features over the group (adaptively taken
    from the low or high resolution); each drift pixel with a prototype is pulled to it by InfoNCE
    against the other prototypes. Prototypes carry no gradient. Returns an exact 0 (in the graph)
    when there is no anchor.

    Optional ``low_weight`` / ``high_weight`` ([B,h,w], e.g. pseudo-label confidence) scale each
    anchor's term; the loss stays a sum over anchors divided by their count (so weights below 1
    weaken the pull, as a weighted CE does). Without them every anchor weighs 1 (the paper).

    ``anchors="all"`` is the symmetric ablation (pixel contrast with every pixel an anchor, as
    CLUDA): no entropy split (``eta`` is not used), prototypes are the normalised class means of
    all valid pixels (still adaptively selected, still without gradient) and every valid pixel is
    pulled to its class's prototype. ``anchors="random"`` is the count-matched control: the
    paper's split and prototypes, but the pulled pixels are a uniformly random subset of each
    image's valid pixels (both resolutions pooled), as many as its drift pixels; it draws from
    torch's global generator.

    Shape: low/high = (features [B,D,h,w], logits [B,C,h,w], labels [B,h,w]) -> [] (scalar)
    """
    return pixl_loss_with_stats(
        low,
        high,
        num_classes=num_classes,
        eta=eta,
        temperature=temperature,
        adaptive_selection=adaptive_selection,
        ignore_index=ignore_index,
        low_weight=low_weight,
        high_weight=high_weight,
        anchors=anchors,
    ).loss


class PiXLLoss(nn.Module):
    """``pixl_loss`` with its hyper-parameters; returns the loss and its statistics.

    Example::

        criterion = PiXLLoss(num_classes=19, temperature=1.0)
        result = criterion(low, high, eta=eta_at(step, total_steps))
        result.loss.backward(); log(result.stats.as_dict())
    """

    def __init__(
        self,
        num_classes: int,
        temperature: float = 1.0,
        adaptive_selection: bool = True,
        ignore_index: int = IGNORE_INDEX,
        anchors: Anchors = "drift",
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(
                f"num_classes: expected a positive number of classes, got {num_classes}"
            )
        check_temperature(temperature)
        _check_anchors(anchors)
        self.num_classes = num_classes
        self.anchors = anchors
        self.temperature = temperature
        self.adaptive_selection = adaptive_selection
        self.ignore_index = ignore_index

    def forward(
        self,
        low: Resolution,
        high: Resolution | None,
        eta: float,
        low_weight: Tensor | None = None,
        high_weight: Tensor | None = None,
    ) -> PiXLResult:
        return pixl_loss_with_stats(
            low,
            high,
            num_classes=self.num_classes,
            eta=eta,
            temperature=self.temperature,
            adaptive_selection=self.adaptive_selection,
            ignore_index=self.ignore_index,
            low_weight=low_weight,
            high_weight=high_weight,
            anchors=self.anchors,
        )

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, temperature={self.temperature}, "
            f"adaptive_selection={self.adaptive_selection}, ignore_index={self.ignore_index}, "
            f"anchors={self.anchors!r}"
        )
