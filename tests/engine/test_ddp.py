"""Two CPU processes (gloo DDP through Fabric): the EMA teacher stays identical on both ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from .tiny import tiny_config_dict

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from pixl.config import config_from_dict
    from pixl.engine import Trainer
    from pixl.engine.callbacks import Callback

    class Record(Callback):
        def on_log(self, trainer, metrics):
            self.metrics = metrics

    torch.set_num_threads(1)
    config = config_from_dict(json.loads(open(sys.argv[1]).read()))
    record = Record()
    trainer = Trainer(config, callbacks=[record], final_eval=True)
    result = trainer.fit()
    rank = trainer.fabric.global_rank
    out = sys.argv[2]
    torch.save(
        {
            "teacher": trainer.task.teacher.state_dict(),
            "student": trainer.raw_model.state_dict(),
            "labelled_names": None,
            "metrics": record.metrics,
            "miou": result.report.miou,
            "world": trainer.fabric.world_size,
        },
        f"{out}/rank{rank}.pt",
    )
    """
)


@pytest.mark.slow
def test_two_process_ddp_keeps_the_teacher_identical(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config_dict(
        tiny_digits, tmp_path / "runs", task="uda", trainer={"max_steps": 2, "log_every": 2}
    )
    config["trainer"].update({"devices": 2, "strategy": "ddp"})
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(script), str(config_path), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    for part in ("teacher", "student"):
        for name, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][name]), f"{part}.{name}"
    # Metrics are reduced across ranks: both report the same numbers.
    assert ranks[0]["metrics"] == ranks[1]["metrics"]
    assert ranks[0]["miou"] == ranks[1]["miou"]
    assert (tmp_path / "runs" / config["name"] / "checkpoints" / "step_00000002.pt").is_file()
