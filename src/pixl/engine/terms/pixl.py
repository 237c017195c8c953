"""The PiXL terms (``pixl`` section): ``pixl_labelled`` and ``pixl_mixed`` (``group: per_pass``),
or one ``pixl_joint`` over both passes (``group: joint``), with the run's eta schedule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pixl.config.schema import PiXLConfig
from pixl.core import IGNORE_INDEX, PiXLLoss, eta_at, labels_to_feature_resolution
from pixl.core.loss import Resolution
from pixl.engine.terms.base import (
    LABELLED,
    MIXED,
    LossTerm,
    Pass,
    PassName,
    TermContext,
    TermOutput,
)
from pixl.engine.terms.ce import crop_map
from pixl.models import SegmentationOutput


class PiXLTerm:
    """The PiXL loss of one group of passes (one partition, one set of prototypes).

    ``passes``: the passes the group is made of, concatenated along the batch. A joint group
    (labelled + mixed) is the labelled pass alone at steps without a mixed pass.
    """

    with_pass = False

    def __init__(
        self,
        config: PiXLConfig,
        num_classes: int,
        max_steps: int,
        passes: tuple[PassName, ...] = (LABELLED,),
    ) -> None:
        self.config = config
        self.max_steps = max_steps
        self.passes = passes
        self.num_classes = num_classes
        self.criterion = PiXLLoss(
            num_classes,
            config.temperature,
            config.adaptive_selection,
            IGNORE_INDEX,
            anchors=config.anchors,
        )

    def eta(self, step: int) -> float:
        """eta_start -> eta_end linearly, from step 0 or from ``start_step`` (``pixl.eta_from``)."""
        c = self.config
        origin = c.start_step if c.eta_from == "start_step" else 0
        span = max(self.max_steps - origin, 1)
        return eta_at(max(step - origin, 0), span, c.eta_start, c.eta_end)

    def reads(self, step: int, available: tuple[PassName, ...]) -> tuple[PassName, ...]:
        # PiXL joins the loss at pixl.start_step (0: from the first step, as in the paper).
        if step < self.config.start_step:
            return ()
        return tuple(p for p in self.passes if p in available)

    def label(self, passes: tuple[PassName, ...]) -> str:
        return f"PiXL {passes[-1]}"

    def __call__(self, passes: Mapping[PassName, Pass], step: int) -> TermOutput:
        read = tuple(passes)
        name = f"pixl_{'joint' if len(read) > 1 else read[0]}"
        # Anchors weigh their pseudo-label weight only with mixed_weighting: pseudo.
        weighted = self.config.mixed_weighting == "pseudo"
        parts = [Pass(p.forward, p.labels, p.weight if weighted else None) for p in passes.values()]
        loss, stats = self.group_loss(parts, step, name)
        return TermOutput({name: loss}, {"pixl/eta": torch.tensor(self.eta(step)), **stats})

    def group_loss(
        self, parts: list[Pass], step: int, prefix: str
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``weight x pixl_loss(low, high)`` of the parts as one group, and its statistics
        named ``{prefix}/...``."""
        lows = [self._resolution(p.forward.low, p.labels, p.weight) for p in parts]
        highs = [self._high(p) for p in parts]
        high = None
        if all(h is not None for h in highs):
            high = _concat([h for h in highs if h is not None])
        elif any(h is not None for h in highs):
            raise ValueError("a PiXL group mixes passes with and without a detail crop")
        low = _concat(lows)
        result = self.criterion(
            low.resolution,
            None if high is None else high.resolution,
            self.eta(step),
            low.weight,
            None if high is None else high.weight,
        )
        stats = {f"{prefix}/{k}": v.detach().float() for k, v in result.stats.__dict__.items()}
        return self.config.weight * result.loss, stats

    def _high(self, part: Pass) -> _GroupInput | None:
        forward = part.forward
        if forward.high is None or forward.box is None:
            return None
        weight = None if part.weight is None else crop_map(part.weight, forward.box)
        return self._resolution(forward.high, crop_map(part.labels, forward.box), weight)

    def _resolution(
        self, out: SegmentationOutput, labels: Tensor, weight: Tensor | None
    ) -> _GroupInput:
        size = (out.features.shape[-2], out.features.shape[-1])
        # Labels and pseudo-labels alike: the majority per cell, or ignored below pixl.cell_purity.
        cells = labels_to_feature_resolution(
            labels, size, self.num_classes, IGNORE_INDEX, self.config.cell_purity
        )
        # A cell weighs the mean of its pixels' weights (labels take the cell's majority).
        cell_weight = (
            None
            if weight is None
            else F.adaptive_avg_pool2d(weight[:, None].to(out.features.dtype), size)[:, 0]
        )
        return _GroupInput(out.features, out.logits, cells, cell_weight)


@dataclass
class _GroupInput:
    """One resolution of a PiXL group at feature resolution."""

    features: Tensor
    logits: Tensor
    labels: Tensor
    """[B, h, w] majority label of each feature cell."""
    weight: Tensor | None
    """[B, h, w] anchor weight of each cell, or None (all 1)."""

    @property
    def resolution(self) -> Resolution:
        """What ``pixl.core`` takes: ``(features, logits, labels)``."""
        return self.features, self.logits, self.labels


def _concat(parts: list[_GroupInput]) -> _GroupInput:
    """Passes of one group concatenated along the batch; a pass without weights weighs 1."""
    if len(parts) == 1:
        return parts[0]
    if len({tuple(p.features.shape[1:]) for p in parts}) > 1:
        raise ValueError(
            "pixl.group 'joint' needs the labelled and mixed passes at the same feature size, got "
            + ", ".join(str(tuple(p.features.shape[-2:])) for p in parts)
        )
    weights = None
    if any(p.weight is not None for p in parts):
        weights = torch.cat(
            [
                p.weight
                if p.weight is not None
                else torch.ones_like(p.labels, dtype=p.features.dtype)
                for p in parts
            ]
        )
    return _GroupInput(
        torch.cat([p.features for p in parts]),
        torch.cat([p.logits for p in parts]),
        torch.cat([p.labels for p in parts]),
        weights,
    )


def build(context: TermContext) -> list[LossTerm]:
    """No term with ``pixl.enabled: false`` (the paper's baseline); one per pass (``per_pass``)
    or one over both (``joint``)."""
    c, max_steps = context.config.pixl, context.config.trainer.max_steps
    if not c.enabled:
        return []
    groups: list[tuple[PassName, ...]] = (
        [(LABELLED, MIXED)] if c.group == "joint" else [(LABELLED,)]
    )
    if c.group == "per_pass" and context.mixed:
        groups.append((MIXED,))
    return [PiXLTerm(c, context.num_classes, max_steps, group) for group in groups]
