"""Real `pixl train` processes: SIGTERM at a step saves and says how to resume; a second run into
the folder is refused; kill -9 during a checkpoint write; after resuming, metrics.jsonl and
TensorBoard hold each step exactly once; a finished run says so."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import pixl
from engine.tiny import tiny_config_dict
from pixl.engine.checkpoint import PAUSE_ENV

SRC = str(Path(pixl.__file__).resolve().parents[1])


def pixl_train(config: Path, *args: str, pause: float | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop(PAUSE_ENV, None)
    if pause is not None:
        env[PAUSE_ENV] = str(pause)  # the test-only pause inside a checkpoint write
    command = [sys.executable, "-m", "pixl.cli", "train", str(config), *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(
    condition: Callable[[], bool], process: subprocess.Popen[str], limit: float = 240
) -> None:
    end = time.monotonic() + limit
    while not condition():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=300)
    return process.returncode, err


def train_steps(run: Path) -> list[int]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if r["kind"] == "train"]


def tensorboard_steps(run: Path) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), purge_orphaned_data=True)
    events.Reload()
    return [event.step for event in events.Scalars("train/loss")]


@pytest.mark.slow
def test_signals_kills_and_a_second_writer(tiny_digits: Path, tmp_path: Path) -> None:
    data = tiny_config_dict(tiny_digits, tmp_path / "runs", task="supervised")
    data["trainer"].update({"max_steps": 1000, "log_every": 1})
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(data))
    run = tmp_path / "runs" / data["name"]

    # 1. SIGTERM (a scheduler's preemption) at a step: the step ends, a checkpoint is saved.
    first = pixl_train(config)
    wait_for(lambda: (run / "metrics.jsonl").is_file() and len(train_steps(run)) >= 2, first)
    first.send_signal(signal.SIGTERM)
    code, err = finish(first)
    assert code == 128 + signal.SIGTERM, err[-2000:]
    stopped = train_steps(run)[-1]
    line = err.strip().splitlines()[-1]
    assert line == (
        f"SIGTERM: stopped at step {stopped} of 1000; saved {run}/checkpoints/"
        f"step_{stopped:08d}.pt; continue with: pixl train {run}/config.yaml --resume auto"
    )
    assert train_steps(run) == list(range(1, stopped + 1))
    assert not (run / "run.lock").exists()

    # 2. Resumed, paused inside the next checkpoint write (one per step now).
    second = pixl_train(config, "--resume", "auto", "trainer.checkpoint_every=1", pause=120)
    temporaries = lambda: list((run / "checkpoints").glob(".step_*.tmp"))  # noqa: E731
    wait_for(lambda: bool(temporaries()), second)
    # 3. A second run into the same folder is refused, naming the writer.
    third = pixl_train(config, "--resume", "auto")
    code, err = finish(third)
    assert code == 2
    assert err.strip() == (
        f"error: {run}: another pixl run writes here: pid {second.pid} on host "
        f"{socket.gethostname()} since "
        + err.split(" since ")[1].split(";")[0]
        + "; wait for it to end, or use another name or output_dir"
    )
    # 4. kill -9 during the write: a temp file, a stale lock and log rows past the checkpoint.
    second.kill()
    second.wait()
    assert temporaries() and (run / "run.lock").exists()
    assert train_steps(run)[-1] == stopped + 1

    # 5. Resume: the stale lock is taken, the temp file removed, the log cut back.
    total = stopped + 3
    code, err = finish(pixl_train(config, "--resume", "auto", f"trainer.max_steps={total}"))
    assert code == 0, err[-2000:]
    assert not temporaries() and not (run / "run.lock").exists()
    assert train_steps(run) == list(range(1, total + 1))
    assert tensorboard_steps(run) == list(range(1, total + 1))
    rows = (run / "metrics.jsonl").read_text()
    assert [json.loads(r)["step"] for r in rows.splitlines() if '"val"' in r] == [total]

    # 6. Resuming a finished run: said, nothing logged.
    done = pixl_train(config, "--resume", "auto", f"trainer.max_steps={total}")
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err[-2000:]
    assert f"the run is finished (step {total}, trainer.max_steps={total})" in out
    assert (run / "metrics.jsonl").read_text() == rows
