"""Loss terms as parts: each term is one module with a ``build(context)`` reading its own config
section (``ce``: CE* on each pass; ``pixl``: the PiXL terms; ``fd``: the feature distance).

The order of ``BUILDERS`` is the order terms are summed and listed in (within a stage).
"""

from pixl.engine.terms import ce, fd, pixl
from pixl.engine.terms.base import (
    LABELLED,
    MIXED,
    LossTerm,
    Pass,
    PassName,
    TermBuilder,
    TermContext,
    TermOutput,
)
from pixl.engine.terms.ce import CrossEntropyTerm, ce_star, weighted_cross_entropy
from pixl.engine.terms.fd import FeatureDistanceTerm
from pixl.engine.terms.pixl import PiXLTerm

BUILDERS: tuple[TermBuilder, ...] = (ce.build, pixl.build, fd.build)


def build_terms(context: TermContext) -> list[LossTerm]:
    """Every term the config turns on, in ``BUILDERS`` order."""
    return [term for build in BUILDERS for term in build(context)]


__all__ = [
    "BUILDERS",
    "LABELLED",
    "MIXED",
    "CrossEntropyTerm",
    "FeatureDistanceTerm",
    "LossTerm",
    "Pass",
    "PassName",
    "PiXLTerm",
    "TermBuilder",
    "TermContext",
    "TermOutput",
    "build_terms",
    "ce_star",
    "weighted_cross_entropy",
]
