"""Resuming continues exactly: N steps == N/2 steps + resume + N/2 steps (CPU, no workers)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.engine import Trainer
from pixl.engine.callbacks import Callback, PeriodicCheckpoint
from pixl.errors import CheckpointError, PixlError

from .tiny import tiny_config


class Interrupt(Exception):
    pass


class StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Trainer, output: object) -> None:
        if trainer.step == self.step:
            raise Interrupt


def states(trainer: Trainer) -> dict[str, torch.Tensor]:
    named = {f"student.{k}": v for k, v in trainer.run.raw_model.state_dict().items()}
    named.update({f"teacher.{k}": v for k, v in trainer.run.teacher.state_dict().items()})
    return named


@pytest.mark.slow
def test_resume_is_bit_exact(tiny_digits: Path, tmp_path: Path) -> None:
    # HRDA + UDA + RCS: every random stream (crops, RCS, detail boxes, ClassMix, augmentation,
    # dropout) is in play.
    options = {"model": "hrda", "trainer": {"max_steps": 4, "checkpoint_every": 2}}
    whole = Trainer(
        tiny_config(tiny_digits, tmp_path / "whole", **options), callbacks=[], final_eval=False
    )
    whole.fit()

    config = tiny_config(tiny_digits, tmp_path / "split", **options)
    first = Trainer(config, callbacks=[PeriodicCheckpoint(2), StopAt(2)], final_eval=False)
    with pytest.raises(Interrupt):
        first.fit()
    second = Trainer(config, resume="auto", callbacks=[], final_eval=False)
    second.fit()
    assert second.step == 4
    expected, got = states(whole), states(second)
    assert expected.keys() == got.keys()
    for name, value in expected.items():
        assert torch.equal(value, got[name]), name
    # Optimizer moments too.
    moments = whole.run.optimizer.state_dict()["state"], second.run.optimizer.state_dict()["state"]
    for key, value in moments[0].items():
        assert torch.equal(value["exp_avg"], moments[1][key]["exp_avg"])


def test_fresh_run_refuses_a_folder_with_checkpoints(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_digits, tmp_path)
    checkpoints = Path(config.run_dir) / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "step_00000002.pt").write_bytes(b"x")
    with pytest.raises(PixlError, match="already holds checkpoints"):
        Trainer(config, callbacks=[]).fit()


def test_resume_from_a_missing_or_foreign_file(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_digits, tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        Trainer(config, resume=str(tmp_path / "nope.pt"), callbacks=[]).fit()
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign\.pt: not a pixl training checkpoint"):
        Trainer(config, resume=str(foreign), callbacks=[]).fit()
