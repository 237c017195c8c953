"""What a ``pixl data prepare`` run did (shared by every kind's prepare step)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PrepareReport:
    """What a prepare run did; ``problems`` holds one line per bad file."""

    kind: str
    root: Path
    converted: int = 0
    skipped: int = 0
    checked: int = 0
    """Images checked in place (kinds whose files are read as they are: ``folder``)."""
    problems: list[str] = field(default_factory=list)
    """One line per file that stops the split (no statistics written for it)."""
    warnings: list[str] = field(default_factory=list)
    """One line per thing fixed or left out that does not stop the split (not ``strict``)."""
    resized: list[str] = field(default_factory=list)
    """Labels brought to their image's size (nearest), as ``split/stem``."""
    left_out: list[str] = field(default_factory=list)
    """Images left out of their split (no label), as ``split/stem``."""
    stats_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Facts about the data to print (generated kinds: each split's feature-cell purity)."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PrepareOptions:
    """How to prepare: worker processes, the generation seed (DigitScenes), a progress bar, and
    ``strict``: every label id outside the table, size mismatch or missing label is a problem
    (else, as the reference converters do: ignore, resized, left out; each reported)."""

    workers: int = 1
    seed: int = 0
    progress: bool = False
    strict: bool = False
