"""Staged backward (source terms first, then the mixed pass) gives the single-backward gradients."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.engine.build import build_model, build_task
from pixl.engine.tasks import TrainBatch
from pixl.engine.teacher import EMATeacher

from .tiny import tiny_config


def batch(seed: int = 0) -> TrainBatch:
    g = torch.Generator().manual_seed(seed)
    blocks = torch.randint(0, 11, (2, 8, 8), generator=g)
    labels = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)
    return TrainBatch(
        labelled={"image": torch.randn(2, 3, 64, 64, generator=g), "label": labels},
        unlabelled={
            "image": torch.randn(2, 3, 64, 64, generator=g),
            "frame_box": torch.tensor([[0, 16, 64, 128, 0], [0, 0, 64, 128, 1]]),
        },
    )


def gradients(config, staged: bool) -> tuple[dict[str, torch.Tensor], int, dict]:
    torch.manual_seed(0)
    model = build_model(config).train()
    teacher = EMATeacher(model)
    task = build_task(
        config,
        model=model,
        raw_model=model,
        generator=torch.Generator().manual_seed(1),
        teacher=teacher,
    )
    torch.manual_seed(2)  # dropout draws the same in both orders
    if staged:
        stages = 0
        for count, stage in enumerate(task.training_stages(batch(), step=5), start=1):
            stage.loss.backward()  # before the generator computes the next stage
            stages = count
        terms = {}
    else:
        output = task.training_step(batch(), step=5)
        output.loss.backward()
        stages, terms = 1, output.terms
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return grads, stages, terms


@pytest.mark.parametrize(
    ("group", "start", "expected_stages"),
    [("per_pass", 0, 2), ("joint", 0, 1), ("per_pass", 10, 1)],  # 10: labelled-only warm-up
)
def test_staged_gradients_equal_single_backward(
    tiny_digits: Path, tmp_path: Path, group: str, start: int, expected_stages: int
) -> None:
    config = tiny_config(
        tiny_digits,
        tmp_path,
        task="uda",
        model="hrda",
        pixl={"group": group},
        self_training={"start_step": start, "pseudo_threshold": 0.0},
    )
    single, _, terms = gradients(config, staged=False)
    staged, stages, _ = gradients(config, staged=True)
    assert stages == expected_stages
    if start == 0:
        assert {"ce_labelled", "ce_mixed"} <= set(terms)  # both passes contribute
    assert single.keys() == staged.keys() and len(single) > 100
    for name, grad in single.items():
        torch.testing.assert_close(staged[name], grad, rtol=1e-5, atol=1e-7, msg=name)
    assert sum(float(g.abs().sum()) for g in single.values()) > 0


@pytest.mark.slow
def test_activation_checkpointing_gives_the_same_step_gradients(
    tiny_digits: Path, tmp_path: Path
) -> None:
    """The whole UDA step (source stage, teacher, mixed stage) with ``model.activation_checkpointing``
    backpropagates to the gradients of the same step without it."""
    options = {"task": "uda", "model": "hrda", "self_training": {"pseudo_threshold": 0.0}}
    plain = tiny_config(tiny_digits, tmp_path, **options)
    checkpointed = plain.model_copy(deep=True)
    checkpointed.model.activation_checkpointing = True
    expected, _, _ = gradients(plain, staged=True)
    found, stages, _ = gradients(checkpointed, staged=True)
    assert stages == 2 and found.keys() == expected.keys() and len(expected) > 100
    for name, grad in expected.items():
        torch.testing.assert_close(found[name], grad, rtol=1e-6, atol=1e-7, msg=name)
