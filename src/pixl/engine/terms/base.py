"""What a loss term is: it reads forward passes of the step and returns named terms and statistics.

A task holds a list of terms (``pixl.engine.terms.build_terms``) and knows nothing of what each
computes: it runs the passes a term reads, calls it, sums what comes back (eq. 17) and logs every
name it returns. Adding a term is one module with a ``build(context)`` plus one config section.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from torch import Tensor, nn

from pixl.config.schema import ExperimentConfig
from pixl.models import TrainOutput

PassName = Literal["labelled", "mixed"]
LABELLED: PassName = "labelled"
MIXED: PassName = "mixed"


@dataclass(frozen=True)
class Pass:
    """One student forward pass and what its terms score it against."""

    forward: TrainOutput
    labels: Tensor
    """[B, H, W] at input resolution (mixed pass: ClassMix labels, pseudo-labels outside)."""
    weight: Tensor | None = None
    """[B, H, W] per-pixel weight (mixed pass: the pseudo-label weight), or None (all 1)."""


@dataclass
class TermOutput:
    """A term's weighted losses (each name summed into the step's loss) and its statistics."""

    terms: dict[str, Tensor]
    stats: dict[str, Tensor] = field(default_factory=dict)


class LossTerm(Protocol):
    """One part of the training loss, built from its own config section."""

    with_pass: bool
    """True: measured in the memory stage of the pass it reads (CE*: ``labelled pass + CE*``)."""

    def reads(self, step: int, available: tuple[PassName, ...]) -> tuple[PassName, ...]:
        """The passes this term reads at ``step`` among those the step has; () when it is off."""
        ...

    def label(self, passes: tuple[PassName, ...]) -> str:
        """The term's name in a step's memory profile (``pixl check``)."""
        ...

    def __call__(self, passes: Mapping[PassName, Pass], step: int) -> TermOutput:
        """The term on the passes it :meth:`reads` (and only those)."""
        ...


@dataclass(frozen=True)
class TermContext:
    """What a term's builder may use; built before the student's warm start."""

    config: ExperimentConfig
    num_classes: int
    model: nn.Module
    """The unwrapped student with its initial weights (FD copies its ImageNet encoder)."""
    mixed: bool
    """Whether the run has a mixed pass (self-training: semi-supervised and UDA)."""
    to_device: Callable[[nn.Module], nn.Module]
    """Moves a term's own module (a frozen network) to the run's device."""


TermBuilder = Callable[[TermContext], list[LossTerm]]
