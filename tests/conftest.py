"""Test-wide settings: offline, few threads (the suite runs on two cores with two xdist workers)."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)

settings.register_profile(
    "pixl", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("pixl")


@pytest.fixture(scope="session")
def tiny_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DigitScenes (64 px, a dozen images per split), generated once per test process."""
    from pixl.data import generate_digit_scenes

    root = tmp_path_factory.mktemp("digits")
    sizes = {"source_train": 12, "target_train": 12, "target_val": 4}
    generate_digit_scenes(root, sizes=sizes, image_size=64)
    return root
