"""A tiny DigitScenes (64 px, a dozen images per split) for the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pixl.data import generate_digit_scenes

    root = tmp_path_factory.mktemp("digits")
    sizes = {"source_train": 12, "target_train": 12, "target_val": 4}
    generate_digit_scenes(root, sizes=sizes, image_size=64)
    return root
