"""``pixl check``: build everything a run needs and time one training step at its real shapes.

A 60k-step job should not be the first to find that a data folder is missing, a weights file does
not load or a step does not fit in memory. ``check_config`` goes through the trainer's own set-up
(model and its weights, warm start, optimizer, task, teacher, data loaders with RCS statistics,
val data) on one device, draws one real batch and runs one full training step (every stage with
its backward, the optimizer step, the teacher update) at a step where every configured term is
on, then reports its time and peak memory. Nothing is written to the run folder.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from lightning_fabric import Fabric

from pixl.config import ExperimentConfig
from pixl.engine.distributed import make_fabric
from pixl.engine.preflight import preflight
from pixl.engine.tasks import StepOutput, TrainBatch
from pixl.engine.trainer import BatchTooSmallError, Trainer


@dataclass(frozen=True)
class CheckReport:
    """What one checked step took: where it ran, its shapes, time and peak memory."""

    device: str
    precision: str
    batch: tuple[int, int]
    """Labelled and unlabelled images per step (unlabelled 0 in supervised runs)."""
    image_size: tuple[int, int]
    parameters: int
    step: int
    """The step index the task was run at (every configured term on)."""
    seconds: float
    """The first step: includes one-time costs (allocator warm-up, optimizer state)."""
    peak_bytes: int
    memory_kind: str
    terms: dict[str, float]
    note: str | None = None
    """Why the batch differs from the one asked for (BatchNorm needs 2 images)."""

    def lines(self) -> list[str]:
        labelled, unlabelled = self.batch
        size = f"{self.image_size[0]}x{self.image_size[1]}"
        batch = f"{labelled} + {unlabelled}" if unlabelled else f"{labelled}"
        terms = ", ".join(f"{k} {v:.3g}" for k, v in self.terms.items())
        return [
            f"data (every image and label decoded), model ({self.parameters / 1e6:.1f} M "
            "parameters), weights, optimizer: built",
            *([f"note: {self.note}"] if self.note else []),
            f"one training step on {self.device} ({self.precision}), batch {batch}, images "
            f"{size}, at step {self.step}: {self.seconds:.2f} s (first step)",
            f"peak memory: {self.peak_bytes / 1024**3:.2f} GiB ({self.memory_kind})",
            f"losses: {terms}",
        ]


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _first_step(trainer: Trainer, fabric: Fabric) -> tuple[TrainBatch, StepOutput, float, int]:
    """Make the loaders, draw one batch and run one step; returns it with its start time and
    the memory in use before it."""
    trainer._setup_data(fabric)
    data = TrainBatch(
        labelled=next(trainer.labelled),
        unlabelled=next(trainer.unlabelled) if trainer.unlabelled is not None else None,
    )
    if fabric.device.type == "cuda":
        torch.cuda.synchronize(fabric.device)
        torch.cuda.reset_peak_memory_stats(fabric.device)
    before = _rss_bytes()
    start = time.perf_counter()
    output, finite = trainer._backward_stages(fabric, data)
    if finite:
        trainer.optimizer.step()
        trainer.task.after_optimizer_step(trainer.step)
    return data, output, start, before


def check_config(config: ExperimentConfig, *, batch: int | None = None) -> CheckReport:
    """Set up ``config``'s run on one device and run one training step; see the module doc.

    ``batch``: images per step for both the labelled and the unlabelled stream (e.g. 1 to see
    a paper config's step on a CPU; a model whose BatchNorm cannot train on one image takes 2, noted in the report). Raises the trainer's one-line errors (``PixlError``).
    """
    config = config.model_copy(deep=True)
    t = config.trainer
    t.devices, t.num_nodes, t.strategy = 1, 1, "auto"
    if batch is not None:
        t.batch_size = t.unlabelled_batch_size = batch
    trainer = Trainer(config, callbacks=[], final_eval=False)
    preflight(trainer.config, full=True)  # every image and label decoded, not only its header
    fabric = make_fabric(t)
    fabric.launch()
    trainer.fabric = fabric
    trainer._setup(fabric, fresh=True)
    # A step where self-training and PiXL are on, if the config turns them on at all.
    trainer.step = max(config.self_training.start_step, config.pixl.start_step)
    cuda = fabric.device.type == "cuda"
    note = None
    try:
        data, output, start, before = _first_step(trainer, fabric)
    except BatchTooSmallError:
        if batch != 1:
            raise
        note = (
            "batch 2, not 1: a BatchNorm layer of the model needs at least 2 values per channel "
            "in training (one image pooled to 1x1 has one)"
        )
        t = trainer.config.trainer
        t.batch_size = t.unlabelled_batch_size = 2
        trainer.optimizer.zero_grad(set_to_none=True)
        data, output, start, before = _first_step(trainer, fabric)
    if cuda:
        torch.cuda.synchronize(fabric.device)
    seconds = time.perf_counter() - start
    if cuda:
        peak = torch.cuda.max_memory_allocated(fabric.device)
        kind = "GPU, allocated by torch"
    else:
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before, 0)
        kind = "CPU, peak RSS above the loaded model and data"
    unlabelled = 0 if data.unlabelled is None else int(data.unlabelled["image"].shape[0])
    images = data.labelled["image"]
    return CheckReport(
        device=str(fabric.device),
        precision=str(t.precision),
        batch=(int(images.shape[0]), unlabelled),
        image_size=(int(images.shape[-2]), int(images.shape[-1])),
        parameters=sum(p.numel() for p in trainer.raw_model.parameters()),
        step=trainer.step,
        seconds=seconds,
        peak_bytes=int(peak),
        memory_kind=kind,
        terms={k: float(v) for k, v in output.terms.items()},
        note=note,
    )
