"""The UDA feature distance: on with encoder weights (a local file here), off with a warning without."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.engine import Trainer
from pixl.engine.build import build_model, term_context
from pixl.engine.terms.fd import build_feature_distance
from pixl.models import build_encoder

from .test_tasks import Collect
from .tiny import tiny_config


def test_fd_without_encoder_weights_is_off_with_a_warning(
    tiny_digits: Path, tmp_path: Path
) -> None:
    config = tiny_config(tiny_digits, tmp_path, fd={"enabled": True})
    with pytest.warns(UserWarning, match="without ImageNet weights.*feature distance is off"):
        assert build_feature_distance(term_context(config, build_model(config))) is None


@pytest.mark.slow
def test_fd_term_with_local_encoder_weights(tiny_digits: Path, tmp_path: Path) -> None:
    weights = tmp_path / "mit_b0.pth"
    torch.save(build_encoder("mit_b0").state_dict(), weights)
    options = {"encoder": "mit_b0", "embed_dim": 32, "encoder_weights": str(weights)}
    config = tiny_config(
        tiny_digits,
        tmp_path,
        model="daformer",
        fd={"enabled": True, "weight": 0.005, "thing_ratio": 0.1},  # 32 px crops: one cell
        trainer={"max_steps": 2},
    )
    config.model.options = options
    collect = Collect()
    Trainer(config, callbacks=[collect], final_eval=False).fit()
    assert all("train/fd" in log for log in collect.logs)
    # After one update the student's encoder has moved away from the frozen reference.
    assert collect.logs[-1]["train/fd"] > 0
