"""A training run of the ablations (``Run``), its result (``Outcome``), and the store of finished
runs (``benchmarks/ablation_runs.json``), so parts can run in separate sittings and re-render."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

# bench_ablations.py --store replaces it for one invocation.
STORE = Path(__file__).resolve().parents[1] / "ablation_runs.json"


@dataclass(frozen=True)
class Run:
    """One training run: a shipped config, extra overrides, a seed."""

    label: str
    config: str
    overrides: tuple[str, ...] = ()
    seed: int = 0
    steps: int | None = None
    stage: str = ""
    """A protocol tag (e.g. ``stage1``): the same config and seed trained for another purpose is
    another run (its own key and folder)."""

    @property
    def key(self) -> str:
        parts = [self.config, *self.overrides, f"seed={self.seed}", f"steps={self.steps}"]
        return "|".join([self.stage, *parts] if self.stage else parts)

    @property
    def name(self) -> str:
        """A folder name: the config, a short digest of the overrides, seed and steps."""
        digest = hashlib.sha1("|".join(self.overrides).encode()).hexdigest()[:8]
        tag = f"o{digest}" if self.overrides else ""
        parts = (
            self.stage,
            self.config.replace("/", "_"),
            tag,
            f"s{self.seed}",
            f"n{self.steps}",
        )
        return "_".join(p for p in parts if p)


@dataclass
class Outcome:
    miou: float
    per_class: dict[str, float]
    seconds: float
    steps: int
    run_dir: str
    stats: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)


def load_store() -> dict[str, dict]:
    return json.loads(STORE.read_text()) if STORE.is_file() else {}


def save_store(store: dict[str, dict]) -> None:
    tmp = STORE.with_suffix(".tmp")
    tmp.write_text(json.dumps(store, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, STORE)
