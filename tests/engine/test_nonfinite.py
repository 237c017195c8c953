"""A non-finite loss skips the step with a warning; several in a row stop the run, saved."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.engine import NonFiniteLossError, Trainer
from pixl.engine import run as run_module
from pixl.engine.callbacks import Callback

from .tiny import tiny_config


class Snapshots(Callback):
    def __init__(self) -> None:
        self.weights: list[torch.Tensor] = []

    def on_step_end(self, trainer: Trainer, output: object) -> None:
        self.weights.append(trainer.run.raw_model.classifier.weight.detach().clone())


def poison(monkeypatch: pytest.MonkeyPatch, bad_steps: set[int]) -> None:
    """Make the task's loss NaN at ``bad_steps``."""
    build = run_module.build_task

    def build_poisoned(*args, **kwargs):
        task = build(*args, **kwargs)
        original = task.training_stages

        def training_stages(batch, *, step):
            for out in original(batch, step=step):
                if step in bad_steps:
                    out.loss = out.loss * float("nan")
                yield out

        task.training_stages = training_stages
        return task

    monkeypatch.setattr(run_module, "build_task", build_poisoned)


def test_a_nan_loss_skips_the_step(
    tiny_digits: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison(monkeypatch, {1})
    config = tiny_config(tiny_digits, tmp_path, task="supervised")
    snapshots = Snapshots()
    trainer = Trainer(config, callbacks=[snapshots], final_eval=False)
    with pytest.warns(RuntimeWarning, match="step 1: non-finite loss.*skipped"):
        trainer.fit()
    assert trainer.step == 3
    assert torch.equal(snapshots.weights[0], snapshots.weights[1])  # step 1 changed nothing
    assert not torch.equal(snapshots.weights[1], snapshots.weights[2])
    assert all(torch.isfinite(w).all() for w in snapshots.weights)


def test_nan_losses_in_a_row_stop_with_a_checkpoint(
    tiny_digits: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison(monkeypatch, {1, 2})
    config = tiny_config(
        tiny_digits, tmp_path, task="supervised", trainer={"max_steps": 5, "max_nonfinite": 2}
    )
    with (
        pytest.warns(RuntimeWarning),
        pytest.raises(
            NonFiniteLossError, match="2 consecutive steps had a non-finite loss"
        ) as info,
    ):
        Trainer(config, callbacks=[], final_eval=False).fit()
    assert "\n" not in str(info.value)
    saved = Path(config.run_dir) / "checkpoints" / "step_00000003.pt"
    assert saved.is_file()
    assert str(saved) in str(info.value)
