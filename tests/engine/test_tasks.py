"""A few training steps of each task on a tiny DigitScenes, through the real trainer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from pixl.engine import Trainer
from pixl.engine.callbacks import Callback

from .tiny import tiny_config


class Collect(Callback):
    def __init__(self) -> None:
        self.logs: list[dict[str, float]] = []

    def on_log(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        self.logs.append(dict(metrics))


def run(config, **options) -> tuple[Trainer, Collect]:
    collect = Collect()
    trainer = Trainer(config, callbacks=[collect], **options)
    trainer.fit()
    return trainer, collect


EXPECTED_TERMS = {
    "supervised": {"loss", "ce_labelled", "pixl_labelled"},
    "semi": {"loss", "ce_labelled", "pixl_labelled", "ce_mixed", "pixl_mixed"},
    "uda": {"loss", "ce_labelled", "pixl_labelled", "ce_mixed", "pixl_mixed"},
}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["supervised", "semi", "uda"])
def test_each_task_trains_a_few_steps(task: str, tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_digits, tmp_path, task=task)
    trainer, collect = run(config)
    assert trainer.step == 3
    assert len(collect.logs) == 3
    for log in collect.logs:
        terms = {k.removeprefix("train/") for k in log if k.startswith("train/")}
        assert EXPECTED_TERMS[task] <= terms
        assert all(math.isfinite(v) for v in log.values())
        total = sum(log[f"train/{t}"] for t in EXPECTED_TERMS[task] - {"loss"})
        assert log["train/loss"] == pytest.approx(total, rel=1e-5)  # eq. (17): the sum
        assert 0 < log["pixl/eta"] <= 0.2 + 1e-6
    etas = [log["pixl/eta"] for log in collect.logs]
    assert etas == sorted(etas, reverse=True)  # eta decays over the run
    if task != "supervised":
        assert {"pseudo/confidence", "pseudo/weight", "teacher/alpha"} <= set(collect.logs[0])
    run_dir = Path(config.run_dir)
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "final" / "model.safetensors").is_file()
    assert (run_dir / "checkpoints" / "step_00000003.pt").is_file()
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    assert report["num_images"] == 4


@pytest.mark.slow
def test_hrda_uda_uses_both_resolutions_and_the_ablation_switches(
    tiny_digits: Path, tmp_path: Path
) -> None:
    config = tiny_config(tiny_digits, tmp_path / "aps", model="hrda", trainer={"max_steps": 2})
    _, collect = run(config, final_eval=False)
    log = collect.logs[-1]
    assert log["pixl_labelled/prototypes"] > 0
    # Without adaptive selection the prototypes pool both resolutions: none "from high".
    off = tiny_config(
        tiny_digits,
        tmp_path / "dpa",
        model="hrda",
        trainer={"max_steps": 2},
        pixl={"adaptive_selection": False},
    )
    _, collect = run(off, final_eval=False)
    assert all(log["pixl_labelled/prototypes_from_high"] == 0 for log in collect.logs)
    # PiXL off: the paper's baseline, no PiXL term at all.
    baseline = tiny_config(
        tiny_digits,
        tmp_path / "base",
        model="hrda",
        trainer={"max_steps": 1},
        pixl={"enabled": False},
    )
    _, collect = run(baseline, final_eval=False)
    assert not any(k.startswith(("train/pixl", "pixl")) for k in collect.logs[0])


@pytest.mark.slow
def test_teacher_follows_the_student_after_each_step(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_digits, tmp_path, task="semi", trainer={"max_steps": 1})
    trainer, _ = run(config, final_eval=False)
    teacher = trainer.run.teacher.module
    assert not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    # alpha at step 0 is 0: the teacher is an exact copy of the student after the first step.
    student = trainer.run.raw_model.state_dict()
    for name, value in teacher.state_dict().items():
        assert torch.equal(value, student[name]), name


@pytest.mark.slow
def test_self_training_and_pixl_start_at_their_start_steps(
    tiny_digits: Path, tmp_path: Path
) -> None:
    config = tiny_config(
        tiny_digits,
        tmp_path,
        trainer={"max_steps": 3},
        self_training={"start_step": 2},
        pixl={"start_step": 1},
    )
    _, collect = run(config, final_eval=False)
    mixed = [any(k.startswith(("train/ce_mixed", "pseudo/")) for k in log) for log in collect.logs]
    assert mixed == [False, False, True]  # steps 0 and 1 labelled-only, step 2 self-trains
    pixl = [any(k.startswith("train/pixl_") for k in log) for log in collect.logs]
    assert pixl == [False, True, True]  # PiXL from step 1
    assert "train/pixl_mixed" in collect.logs[2]
    assert all("teacher/alpha" in log for log in collect.logs)  # the teacher follows throughout
