"""pixl.projection: head built into the model, trained by PiXL, saved and loaded with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.config import config_from_dict
from pixl.engine.build import build_model, build_task
from pixl.engine.checkpoint import (
    CheckpointManager,
    config_dict,
    export_weights,
    load_for_inference,
    warm_start,
)
from pixl.engine.teacher import EMATeacher
from pixl.errors import ConfigError
from pixl.models import WithProjection, save_weights

from .test_staged_backward import batch
from .tiny import tiny_config, tiny_config_dict

HEAD = {"projection": "head", "projection_dim": 12}


def test_projection_head_gets_a_pixl_gradient(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_digits, tmp_path, task="supervised", pixl=HEAD)
    torch.manual_seed(0)
    model = build_model(config).train()
    assert isinstance(model, WithProjection) and model.feature_dim == 12
    task = build_task(
        config, model=model, raw_model=model, generator=torch.Generator().manual_seed(1),
        teacher=None,
    )  # fmt: skip
    out = task.training_step(batch(), step=0)
    assert float(out.terms["pixl_labelled"]) > 0
    out.loss.backward()
    # Only PiXL reads the features, so the head's gradient is PiXL's.
    grads = [p.grad for p in model.projection.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_default_is_no_head_and_head_needs_pixl(tiny_digits: Path, tmp_path: Path) -> None:
    assert not isinstance(build_model(tiny_config(tiny_digits, tmp_path)), WithProjection)
    data = tiny_config_dict(tiny_digits, tmp_path, pixl={**HEAD, "enabled": False})
    with pytest.raises(ConfigError) as error:
        config_from_dict(data, source="tiny")
    message = str(error.value)
    assert "pixl.projection" in message and "\n" not in message


def test_checkpoint_with_a_head_round_trips(tmp_path: Path) -> None:
    config = config_from_dict(tiny_config_dict(tmp_path, tmp_path, task="supervised", pixl=HEAD))
    torch.manual_seed(0)
    model = build_model(config)
    path = CheckpointManager(tmp_path / "ckpt", keep_last=1).save(
        {"format": "pixl-checkpoint", "step": 1, "config": config_dict(config),
         "model": model.state_dict()},
        1,
    )  # fmt: skip
    for source in (path, export_weights(model, config, tmp_path / "final")):
        _, loaded = load_for_inference(source)
        assert isinstance(loaded, WithProjection)
        state = loaded.state_dict()
        assert any(k.startswith("projection.") for k in state)
        assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_warm_start_from_a_model_without_head(tmp_path: Path) -> None:
    plain_config = config_from_dict(tiny_config_dict(tmp_path, tmp_path, task="supervised"))
    torch.manual_seed(0)
    plain = build_model(plain_config)
    save_weights(plain, tmp_path / "plain.safetensors")
    config = config_from_dict(tiny_config_dict(tmp_path, tmp_path, task="supervised", pixl=HEAD))
    torch.manual_seed(1)
    model = build_model(config)
    fresh_head = {k: v.clone() for k, v in model.projection.state_dict().items()}
    warm_start(model, tmp_path / "plain.safetensors")
    assert all(torch.equal(v, model.model.state_dict()[k]) for k, v in plain.state_dict().items())
    assert all(torch.equal(v, model.projection.state_dict()[k]) for k, v in fresh_head.items())
    # And a head model's own file into a head model, as it is.
    save_weights(model, tmp_path / "head.safetensors")
    torch.manual_seed(2)
    other = build_model(config)
    warm_start(other, tmp_path / "head.safetensors")
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in model.state_dict().items())
    teacher = EMATeacher(other)  # the teacher copies the head with the model
    assert isinstance(teacher.module, WithProjection)
