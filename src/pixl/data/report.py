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
    stats_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PrepareOptions:
    """How to prepare: worker processes, the generation seed (DigitScenes), a progress bar."""

    workers: int = 1
    seed: int = 0
    progress: bool = False
