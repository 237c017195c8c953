"""Schedule of the drift fraction eta over training (paper section 4.1.3)."""

from __future__ import annotations


def eta_at(step: int, total_steps: int, start: float = 0.2, end: float = 0.001) -> float:
    """Linear decay of eta from ``start`` at step 0 to ``end`` at ``total_steps`` (held after)."""
    if total_steps <= 0:
        raise ValueError(f"total_steps: expected a positive number of steps, got {total_steps}")
    if step < 0:
        raise ValueError(f"step: expected a step >= 0, got {step}")
    for name, value in (("start", start), ("end", end)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name}: expected a drift fraction in [0, 1], got {value}")
    progress = min(step / total_steps, 1.0)
    return start + (end - start) * progress
