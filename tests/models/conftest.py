"""Fixtures of the model tests."""

import pytest
import torch

from .tiny import SIZE


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
