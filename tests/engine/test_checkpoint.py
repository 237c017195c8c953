"""Checkpoint files: atomic writes, keep-last pruning, safe loading, inference loading."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from pixl.config import config_from_dict, save_config
from pixl.engine.build import build_model
from pixl.engine.checkpoint import (
    CheckpointManager,
    capture_rng,
    config_dict,
    export_weights,
    load_checkpoint,
    load_for_inference,
    resolve_resume,
    restore_rng,
)
from pixl.errors import CheckpointError
from pixl.models import save_weights

from .tiny import tiny_config_dict


def test_manager_keeps_the_last_k_and_leaves_no_temp_files(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path / "checkpoints", keep_last=2)
    for step in (2, 4, 6):
        manager.save({"step": step}, step)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_00000004.pt", "step_00000006.pt"]
    assert manager.latest() == tmp_path / "checkpoints" / "step_00000006.pt"
    assert load_checkpoint(manager.latest())["step"] == 6
    assert resolve_resume("auto", tmp_path) == manager.latest()
    assert resolve_resume("auto", tmp_path / "elsewhere") is None
    assert resolve_resume(None, tmp_path) is None


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path: Path) -> None:
    state = capture_rng()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.save({"rng": state}, tmp_path / "rng.pt")
    restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0])
    assert np.array_equal(expected[1], again[1]) and expected[2] == again[2]


def test_foreign_and_corrupt_files_are_refused_by_name(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"corrupt\.pt: not a readable pixl checkpoint"):
        load_checkpoint(corrupt)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match=r"other\.pt: not a pixl training checkpoint"):
        load_checkpoint(other)
    with pytest.raises(CheckpointError, match=r"weights\.bin: expected a \.pt checkpoint"):
        load_for_inference(tmp_path / "weights.bin")


def test_load_for_inference_from_checkpoint_and_from_safetensors(tmp_path: Path) -> None:
    config = config_from_dict(tiny_config_dict(tmp_path, tmp_path, task="supervised"))
    torch.manual_seed(0)
    model = build_model(config)
    manager = CheckpointManager(tmp_path / "ckpt", keep_last=1)
    path = manager.save(
        {
            "format": "pixl-checkpoint",
            "step": 1,
            "config": config_dict(config),
            "model": model.state_dict(),
        },
        1,
    )
    loaded_config, loaded = load_for_inference(path)
    assert loaded_config == config and not loaded.training
    for name, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name])
    weights = export_weights(model, config, tmp_path / "final")
    _, from_safetensors = load_for_inference(weights)
    for name, value in model.state_dict().items():
        assert torch.equal(value, from_safetensors.state_dict()[name])
    (tmp_path / "final" / "config.yaml").unlink()  # the export carries its config itself
    assert load_for_inference(weights)[0] == config
    # An export of an older pixl (no metadata) reads the config.yaml beside it.
    save_weights(model, weights)
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: holds no config .* config\.yaml"
    ):
        load_for_inference(weights)
    other = config_from_dict(
        {
            **tiny_config_dict(tmp_path, tmp_path, task="supervised"),
            "model": {"name": "daformer", "options": {"encoder": "mit_b0", "embed_dim": 16}},
        }
    )
    save_config(other, tmp_path / "final" / "config.yaml")
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        load_for_inference(weights)
