"""``model.init_from`` (warm start) and the PiXL switches the paper leaves open."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.config import config_from_dict
from pixl.config.schema import PiXLConfig
from pixl.core import labels_to_feature_resolution, pixl_loss
from pixl.engine import Trainer
from pixl.engine.callbacks import Callback
from pixl.engine.checkpoint import weight_mismatches
from pixl.engine.terms import Pass, PiXLTerm
from pixl.errors import CheckpointError
from pixl.models import SegmentationOutput, TrainOutput, read_state_dict

from .tiny import tiny_config, tiny_config_dict


def warm_config(root: Path, out: Path, init_from: Path, **options: object):
    data = tiny_config_dict(root, out)
    data["model"]["init_from"] = str(init_from)
    data["model"]["options"].update(options)
    return config_from_dict(data, source="tiny")


class AtStart(Callback):
    """Copies of the student and teacher weights when training starts (before any step)."""

    def on_train_start(self, trainer: Trainer) -> None:
        self.step = trainer.step
        self.student = {k: v.clone() for k, v in trainer.run.raw_model.state_dict().items()}
        teacher = trainer.run.teacher
        self.teacher = (
            None
            if teacher is None
            else {k: v.clone() for k, v in teacher.module.state_dict().items()}
        )
        self.optimizer_state = dict(trainer.run.optimizer.state)


class Logs(Callback):
    def __init__(self) -> None:
        self.logs: list[dict[str, float]] = []

    def on_log(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        self.logs.append(dict(metrics))


@pytest.fixture(scope="module")
def stage1(tiny_digits: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-step supervised run: its checkpoint and safetensors export."""
    out = tmp_path_factory.mktemp("stage1")
    config = tiny_config(tiny_digits, out, task="supervised", trainer={"max_steps": 2})
    Trainer(config, callbacks=[], final_eval=False).fit()
    return Path(config.run_dir)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["checkpoints/step_00000002.pt", "final/model.safetensors"])
def test_init_from_starts_student_and_teacher_from_the_file_as_a_fresh_run(
    source: str, stage1: Path, tiny_digits: Path, tmp_path: Path
) -> None:
    path = stage1 / source
    config = warm_config(tiny_digits, tmp_path, path)
    start = AtStart()
    trainer = Trainer(config, callbacks=[start], final_eval=False)
    trainer.fit()
    expected = read_state_dict(stage1 / "final" / "model.safetensors")
    assert start.step == 0 and start.optimizer_state == {}
    for name, value in expected.items():
        assert torch.equal(start.student[name], value), name
        assert torch.equal(start.teacher[name], value), name
    assert trainer.step == 3  # then trains its own steps


def test_weight_mismatches_lists_every_disagreement_in_the_models_order() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    state = dict(model.state_dict())
    assert weight_mismatches(state, model) == []
    state["0.bias"] = torch.zeros(5)
    del state["1.weight"]
    state["2.weight"] = torch.zeros(1)
    assert weight_mismatches(state, model) == [
        "0.bias: file (5,) vs model (4,) (another architecture or class count?)",
        "1.weight is missing from the file",
        "2.weight is in the file but not in the model",
    ]


@pytest.mark.slow
def test_init_from_another_architecture_names_the_file_and_tensor(
    stage1: Path, tiny_digits: Path, tmp_path: Path
) -> None:
    path = stage1 / "final" / "model.safetensors"
    config = warm_config(tiny_digits, tmp_path, path, embed_dim=16)
    with pytest.raises(CheckpointError) as error:
        Trainer(config, callbacks=[], final_eval=False).fit()
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    assert "file (" in message and "vs model (" in message  # the first mismatched tensor
    missing = warm_config(tiny_digits, tmp_path / "m", tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="init_from file not found"):
        Trainer(missing, callbacks=[], final_eval=False).fit()


@pytest.mark.slow
def test_joint_group_replaces_the_per_pass_terms(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_digits, tmp_path, pixl={"group": "joint"}, trainer={"max_steps": 2})
    logs = Logs()
    Trainer(config, callbacks=[logs], final_eval=False).fit()
    for log in logs.logs:
        assert "train/pixl_joint" in log
        assert "train/pixl_labelled" not in log and "train/pixl_mixed" not in log
        # Joint pixels of both passes: 2 labelled + 2 mixed images of 8x8 feature cells at most.
        assert log["pixl_joint/joint_pixels"] + log["pixl_joint/drift_pixels"] <= 4 * 64


def _forward(g: torch.Generator, batch: int = 2) -> TrainOutput:
    features = torch.randn(batch, 8, 4, 4, generator=g, dtype=torch.float64)
    logits = torch.randn(batch, 3, 4, 4, generator=g, dtype=torch.float64)
    out = SegmentationOutput(logits=logits, features=features)
    return TrainOutput(logits=logits, low=out, low_images=torch.zeros(batch, 3, 16, 16))


def test_joint_term_is_pixl_loss_of_the_concatenated_passes() -> None:
    g = torch.Generator().manual_seed(0)
    first, second = _forward(g), _forward(g)
    labels = [torch.randint(0, 3, (2, 16, 16), generator=g) for _ in range(2)]
    config = PiXLConfig(temperature=0.5, weight=0.5, group="joint")
    term = PiXLTerm(config, num_classes=3, max_steps=10, passes=("labelled", "mixed"))
    assert term.reads(0, ("labelled", "mixed")) == ("labelled", "mixed")
    assert term.reads(0, ("labelled",)) == ("labelled",)  # no mixed pass yet: the labelled alone
    out = term({"labelled": Pass(first, labels[0]), "mixed": Pass(second, labels[1])}, 0)
    assert set(out.terms) == {"pixl_joint"}
    loss, stats = out.terms["pixl_joint"], out.stats
    cells = [labels_to_feature_resolution(lab, (4, 4), 3) for lab in labels]
    expected = pixl_loss(
        (
            torch.cat([first.low.features, second.low.features]),
            torch.cat([first.low.logits, second.low.logits]),
            torch.cat(cells),
        ),
        None,
        num_classes=3,
        eta=0.2,
        temperature=0.5,
    )
    torch.testing.assert_close(loss, 0.5 * expected)
    assert stats["pixl_joint/joint_pixels"] + stats["pixl_joint/drift_pixels"] == 2 * 2 * 16


def test_eta_schedule_from_start_step() -> None:
    step0 = PiXLTerm(PiXLConfig(start_step=40), num_classes=3, max_steps=100)
    shifted = PiXLTerm(PiXLConfig(start_step=40, eta_from="start_step"), 3, 100)
    assert step0.eta(40) == pytest.approx(0.2 + (0.001 - 0.2) * 0.4)
    assert shifted.eta(40) == pytest.approx(0.2)
    assert shifted.eta(70) == pytest.approx(0.2 + (0.001 - 0.2) * 0.5)
    assert shifted.eta(100) == pytest.approx(0.001)
