"""One run builder and one step: ``pixl check`` takes exactly the trainer's step, the progress bar
shows whatever terms the task returns."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.engine import Trainer, check
from pixl.engine.callbacks import Callback, ProgressBar
from pixl.engine.metrics import loss_terms

from .tiny import tiny_config


class AfterFirstStep(Callback):
    """The student's and the teacher's weights and buffers after the first step."""

    def on_step_end(self, trainer: Trainer, output: object) -> None:
        if trainer.step == 1:
            self.states = snapshot(trainer.run)


def snapshot(run) -> dict[str, torch.Tensor]:
    named = {f"student.{k}": v.clone() for k, v in run.raw_model.state_dict().items()}
    named.update({f"teacher.{k}": v.clone() for k, v in run.teacher.state_dict().items()})
    return named


def trainer_step(config) -> dict[str, torch.Tensor]:
    after = AfterFirstStep()
    Trainer(config, callbacks=[after], final_eval=False).fit()
    return after.states


def checked_step(config, monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Tensor]:
    """``pixl check``'s step on ``config``, with the weights it leaves behind."""
    seen: dict[str, dict[str, torch.Tensor]] = {}
    original = check.train_step

    def recording(run, batch, **kwargs):
        result = original(run, batch, **kwargs)
        seen["states"] = snapshot(run)
        return result

    monkeypatch.setattr(check, "train_step", recording)
    report = check.check_config(config)
    assert report.step == 0 and {"ce_labelled", "ce_mixed", "pixl_mixed"} <= set(report.terms)
    return seen["states"]


@pytest.mark.slow
def test_check_runs_the_trainers_step(
    tiny_digits: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same seed, same config: one ``pixl check`` step leaves the student (BatchNorm buffers
    included) and the teacher exactly as the trainer's first step does, gradient clipping on.
    (Buffer sync is part of the same ``train_step``; on one process it has nothing to do.)"""
    clipped = tiny_config(
        tiny_digits,
        tmp_path / "clipped",
        task="uda",
        model="hrda",
        optim={"grad_clip": 1e-3, "warmup_steps": 0},
        trainer={"max_steps": 1},
        self_training={"pseudo_threshold": 0.0},
    )
    by_trainer = trainer_step(clipped)
    by_check = checked_step(clipped, monkeypatch)
    assert by_check.keys() == by_trainer.keys() and len(by_check) > 100
    for name, value in by_trainer.items():
        assert torch.equal(by_check[name], value), name
    # Clipping took part: without it the same step ends elsewhere.
    unclipped = clipped.model_copy(deep=True)
    unclipped.optim.grad_clip = None
    unclipped.output_dir = str(tmp_path / "unclipped")
    free = trainer_step(unclipped)
    assert any(not torch.equal(free[k], v) for k, v in by_trainer.items() if "student" in k)


def test_the_progress_bar_shows_every_returned_term() -> None:
    metrics = {
        "train/pixl_joint": 0.5,
        "train/ce_labelled": 2.0,
        "train/loss": 3.0,
        "train/some_new_term": 0.5,
        "train/skipped_steps": 0.0,
        "time/step_seconds": 1.0,
        "pixl/eta": 0.2,
    }
    assert list(loss_terms(metrics)) == ["loss", "ce_labelled", "pixl_joint", "some_new_term"]

    class Bar:
        def __init__(self) -> None:
            self.fields: dict[str, str] = {}

        def update(self, task_id: object, **fields: str) -> None:
            self.fields.update(fields)

    bar = ProgressBar()
    bar.progress = Bar()  # type: ignore[assignment]
    bar.on_log(None, metrics)  # type: ignore[arg-type]
    shown = bar.progress.fields["terms"]  # type: ignore[attr-defined]
    assert shown == "loss=3.000 ce_labelled=2.000 pixl_joint=0.500 some_new_term=0.500"
