"""One writer per run folder; logs cut back to the checkpoint; nothing written before the
checkpoint and config are known to fit; a failed start leaves no folder behind."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pixl.config import config_from_dict
from pixl.engine import Trainer
from pixl.engine.callbacks import Callback
from pixl.engine.run_folder import (
    LOCK_NAME,
    RunLock,
    RunLockedError,
    remove_stale_temporaries,
    truncate_metrics,
)
from pixl.errors import CheckpointError, DataError, PixlError

from .tiny import tiny_config, tiny_config_dict


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def write_lock(run: Path, pid: int, host: str) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host, "started": 0}))


def test_a_live_lock_names_its_holder_and_a_stale_one_is_taken(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = RunLock(run)
    first.acquire()
    assert first.created_dir and json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()} on host {socket.gethostname()}"):
        RunLock(run).acquire()
    first.release()
    assert not (run / LOCK_NAME).exists()

    write_lock(run, dead_pid(), socket.gethostname())  # a run killed with -9
    second = RunLock(run)
    second.acquire()
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()
    second.release()

    write_lock(run, 1, "elsewhere")  # another host: cannot be checked from here
    with pytest.raises(RunLockedError, match=r"pid 1 on host elsewhere .*delete .*run\.lock"):
        RunLock(run).check()


def test_metrics_are_cut_back_to_the_checkpoint_step(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "kind": "train"} for s in (1, 2, 3, 4)] + [{"step": 2, "kind": "val"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 5, "ki')  # torn
    assert truncate_metrics(path, 2) == 3
    kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["step"], r["kind"]) for r in kept] == [(1, "train"), (2, "train"), (2, "val")]
    assert truncate_metrics(path, 2) == 0


def test_stale_checkpoint_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".step_00000004.pt.abc123.tmp").write_bytes(b"half")
    (tmp_path / "step_00000002.pt").write_bytes(b"whole")
    removed = remove_stale_temporaries(tmp_path)
    assert [p.name for p in removed] == [".step_00000004.pt.abc123.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["step_00000002.pt"]


class FailAtStart(Callback):
    def on_train_start(self, trainer: Trainer) -> None:
        raise PixlError("no start")


@pytest.mark.slow
def test_resume_checks_before_writing_and_failed_starts_leave_nothing(
    tiny_digits: Path, tmp_path: Path
) -> None:
    options = {"task": "supervised", "trainer": {"max_steps": 1}}
    config = tiny_config(tiny_digits, tmp_path, **options)
    run = Path(config.run_dir)
    with pytest.raises(PixlError, match="no start"):
        Trainer(config, callbacks=[FailAtStart()], final_eval=False).fit()
    assert not run.exists()  # the folder made for the start went with it
    broken = tmp_path / "broken_digits"
    shutil.copytree(tiny_digits, broken)
    for image in (broken / "leftImg8bit" / "source_train").rglob("*.png"):
        image.write_bytes(b"not a png")
    data = tiny_config_dict(broken, tmp_path, **options)
    with pytest.raises(DataError, match=r"12 of 12 files cannot be used, first: .*corrupt"):
        Trainer(config_from_dict(data), final_eval=False).fit()  # fails before the first step
    assert not run.exists()

    Trainer(config, final_eval=False).fit()
    saved = (run / "config.yaml").read_bytes()
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    # Another model's checkpoint: refused before anything is touched, config.yaml included.
    data = tiny_config_dict(tiny_digits, tmp_path, **options)
    data["model"]["options"]["embed_dim"] = 64
    data["trainer"]["max_steps"] = 2
    wider = config_from_dict(data)
    with pytest.raises(CheckpointError, match=r"do not fit .*embed_dim=32 \(config: 64\)"):
        Trainer(wider, resume="auto").fit()
    assert (run / "config.yaml").read_bytes() == saved
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before  # no lock left either
    # A finished run says so and logs nothing more.
    rows = (run / "metrics.jsonl").read_text()
    result = Trainer(config, resume="auto").fit()
    assert result.steps == 1 and result.report is None
    assert (run / "metrics.jsonl").read_text() == rows
    # No checkpoint but logs: --resume auto refuses to append a fresh run to them.
    for path in (run / "checkpoints").iterdir():
        path.unlink()
    with pytest.raises(PixlError, match=r"found no checkpoint .* holds the logs"):
        Trainer(config, resume="auto").fit()
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_steps"] == 1
