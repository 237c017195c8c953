"""Small guards for users' runs: files obey the umask, loaders never start more workers than
cores, the end-of-run line counts the steps this process trained."""

import os
from pathlib import Path

import pytest
import torch

from pixl.config.schema import DatasetSpec
from pixl.data import generate_digit_scenes
from pixl.engine.checkpoint import atomic_save
from pixl.engine.loaders import train_loader
from pixl.engine.reporting import steps_line
from pixl.engine.trainer import TrainResult


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_checkpoint_files_obey_the_umask(tmp_path: Path, mask: int):
    old = os.umask(mask)
    try:
        path = atomic_save({"w": torch.zeros(2)}, tmp_path / "step_1.pt")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_loader_workers_capped_at_the_cores(tmp_path: Path):
    generate_digit_scenes(
        tmp_path, sizes={"source_train": 4, "target_train": 2, "target_val": 2}, image_size=32
    )
    spec = DatasetSpec(kind="digits", root=str(tmp_path), split="source_train")
    loader = train_loader(
        spec,
        labelled=True,
        batch_size=2,
        num_workers=512,
        seed=0,
        rank=0,
        world_size=1,
        start_batch=0,
    )
    assert loader.num_workers == min(512, os.cpu_count() or 1)


def test_end_of_run_line_counts_this_process_steps(tmp_path: Path):
    fresh = TrainResult(tmp_path, 30, 12.0, None, None, None)
    resumed = TrainResult(tmp_path, 30, 5.0, None, None, None, first_step=20)
    assert steps_line(fresh) == "30 steps in 12 s"
    assert steps_line(resumed) == "10 steps in 5 s (steps 21-30 of a resumed run)"


def test_resume_auto_passes_over_a_truncated_newest_checkpoint(tmp_path: Path):
    from pixl.engine.checkpoint import CheckpointManager, resolve_resume

    manager = CheckpointManager(tmp_path / "checkpoints", keep_last=3)
    older = manager.save({"w": torch.zeros(64)}, step=10)
    newest = manager.save({"w": torch.zeros(64)}, step=20)
    assert resolve_resume("auto", tmp_path) == newest
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    with pytest.warns(
        UserWarning, match=r"step_00000020\.pt: truncated.*resuming from .*step_00000010"
    ):
        assert resolve_resume("auto", tmp_path) == older
    older.write_bytes(b"")
    with pytest.warns(UserWarning, match="no older checkpoint"):
        assert resolve_resume("auto", tmp_path) is None
