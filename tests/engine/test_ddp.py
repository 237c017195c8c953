"""Two CPU processes (gloo DDP through Fabric, ``ddp`` and ``ddp_spawn``): the EMA teacher stays
identical on both ranks, and the processes end cleanly (process groups destroyed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import pixl

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

    def main():
        torch.set_num_threads(1)
        config = config_from_dict(json.loads(open(sys.argv[1]).read()))
        record = Record()
        trainer = Trainer(config, callbacks=[record], final_eval=True)
        result = trainer.fit()
        out = sys.argv[2]
        assert not torch.distributed.is_initialized()  # the process group was destroyed
        if config.trainer.strategy == "ddp_spawn":  # the ranks' states stay in the spawned processes
            torch.save({"steps": result.steps, "miou": result.report.miou}, f"{out}/spawn.pt")
            sys.exit(0)
        rank = trainer.fabric.global_rank
        torch.save(
            {
                "teacher": trainer.run.teacher.state_dict(),
                "student": trainer.run.raw_model.state_dict(),
                "labelled_names": None,
                "metrics": record.metrics,
                "miou": result.report.miou,
                "world": trainer.fabric.world_size,
            },
            f"{out}/rank{rank}.pt",
        )

    if __name__ == "__main__":  # ddp_spawn re-imports this file
        main()
    """
)


def run_script(config: dict, tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    src = str(Path(pixl.__file__).resolve().parents[1])  # this tree's pixl, whatever the cwd
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, str(script), str(config_path), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_ddp_spawn_trains_evaluates_and_returns(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config_dict(
        tiny_digits, tmp_path / "runs", task="uda", trainer={"max_steps": 2, "log_every": 2}
    )
    config["trainer"].update({"devices": 2, "strategy": "ddp_spawn"})
    run_script(config, tmp_path)
    result = torch.load(tmp_path / "spawn.pt", weights_only=True)
    assert result["steps"] == 2 and 0 <= result["miou"] <= 1
    run = tmp_path / "runs" / config["name"]
    assert (run / "checkpoints" / "step_00000002.pt").is_file()
    assert not (run / "run.lock").exists()


@pytest.mark.slow
def test_two_process_ddp_keeps_the_teacher_identical(tiny_digits: Path, tmp_path: Path) -> None:
    config = tiny_config_dict(
        tiny_digits, tmp_path / "runs", task="uda", trainer={"max_steps": 2, "log_every": 2}
    )
    config["trainer"].update({"devices": 2, "strategy": "ddp"})
    run_script(config, tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    for part in ("teacher", "student"):
        for name, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][name]), f"{part}.{name}"
    # Metrics are reduced across ranks: both report the same numbers.
    assert ranks[0]["metrics"] == ranks[1]["metrics"]
    assert ranks[0]["miou"] == ranks[1]["miou"]
    assert (tmp_path / "runs" / config["name"] / "checkpoints" / "step_00000002.pt").is_file()
