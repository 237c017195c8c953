"""Two nodes simulated on one machine: two launcher processes (``torchrun --nnodes 2`` over
localhost, one rank each, gloo) run ``pixl train``; rank 0 alone writes each checkpoint; a resume
continues; the weights equal those of one node with two processes."""

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
from safetensors.torch import load_file

import pixl

from .tiny import tiny_config_dict

SRC = str(Path(pixl.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": SRC, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_node_two_processes(config: Path, *overrides: str) -> None:
    command = [sys.executable, "-m", "pixl.cli", "train", str(config), *overrides]
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def two_nodes(config: Path, *overrides: str) -> None:
    port = free_port()
    launchers = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "torch.distributed.run", "--nnodes", "2"),
                *("--nproc-per-node", "1", "--node-rank", str(node)),
                *("--master-addr", "127.0.0.1", "--master-port", str(port)),
                *("-m", "pixl.cli", "train", str(config), *overrides),
            ],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for node in (0, 1)
    ]
    for launcher in launchers:
        _, err = launcher.communicate(timeout=600)
        assert launcher.returncode == 0, err[-3000:]


def weights(run: Path) -> dict:
    return load_file(run / "final" / "model.safetensors")


@pytest.mark.slow
def test_two_nodes_train_checkpoint_resume_like_one_node(tiny_digits: Path, tmp_path: Path) -> None:
    data = tiny_config_dict(tiny_digits, tmp_path / "runs", task="supervised")
    data["trainer"].update(
        {"max_steps": 4, "checkpoint_every": 2, "keep_last": 3, "strategy": "ddp"}
    )
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(data))
    one = tmp_path / "runs" / "one_node"
    one_node_two_processes(config, "name=one_node", "trainer.devices=2")

    nodes = ["name=two_nodes", "trainer.devices=1", "trainer.num_nodes=2"]
    two_nodes(config, *nodes)
    run = tmp_path / "runs" / "two_nodes"
    # One file per checkpoint (rank 0 writes; every rank's random state is inside it).
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["step_00000002.pt", "step_00000004.pt"]
    reference = weights(one)
    assert reference and weights(run).keys() == reference.keys()
    for name, value in weights(run).items():
        assert value.equal(reference[name]), name

    # Lose the last checkpoint and the export, resume on both nodes from step 2.
    (run / "checkpoints" / "step_00000004.pt").unlink()
    shutil.rmtree(run / "final")
    two_nodes(config, *nodes, "--resume", "auto")
    for name, value in weights(run).items():
        assert value.equal(reference[name]), name
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4]
    assert not (run / "run.lock").exists()
