"""Test-wide settings: offline, few threads (the suite runs on two cores with two xdist workers)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)

settings.register_profile(
    "pixl", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("pixl")
