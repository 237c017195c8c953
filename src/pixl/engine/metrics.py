"""Step metrics between two logs: local sums, averaged over the window and over ranks."""

from __future__ import annotations

import torch
from lightning_fabric import Fabric

from pixl.engine.tasks import StepOutput

WINDOW_KEYS = ("train/skipped_steps", "time/step_seconds")
"""What a window adds of its own to the step terms and statistics."""


def loss_terms(metrics: dict[str, float]) -> dict[str, float]:
    """The loss terms among logged ``metrics`` (``train/NAME`` -> ``NAME``), the total first:
    whatever terms the task returned, no list kept by hand."""
    terms = {
        k.removeprefix("train/"): v
        for k, v in metrics.items()
        if k.startswith("train/") and k not in WINDOW_KEYS
    }
    return dict(sorted(terms.items(), key=lambda item: (item[0] != "loss", item[0])))


class MetricWindow:
    """Sums of the step terms and statistics since the last log, averaged over ranks on reduce."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.skipped = 0
        self.seconds = 0.0
        self.steps = 0

    def add(
        self, output: StepOutput | None, after: dict[str, torch.Tensor], seconds: float
    ) -> None:
        self.steps += 1
        self.seconds += seconds
        if output is None:
            self.skipped += 1
            return
        named = {f"train/{k}": v for k, v in output.terms.items()}
        named.update(output.stats)
        named.update(after)
        for key, value in named.items():
            value = value.detach().float().cpu()
            self.sums[key] = self.sums.get(key, torch.zeros(())) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def reduce(self, fabric: Fabric) -> dict[str, float]:
        keys = sorted(self.sums)
        values = torch.stack(
            [self.sums[k] / self.counts[k] for k in keys]
            + [torch.tensor(float(self.skipped)), torch.tensor(self.seconds / max(self.steps, 1))]
        )
        if fabric.world_size > 1:
            values = fabric.all_reduce(values.to(fabric.device), reduce_op="mean").cpu()
        names = [*keys, *WINDOW_KEYS]
        return dict(zip(names, values.tolist(), strict=True))
