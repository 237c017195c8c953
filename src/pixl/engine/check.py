"""``pixl check``: build everything a run needs and time one training step at its real shapes.

A 60k-step job should not be the first to find that a data folder is missing, a weights file does
not load or a step does not fit in memory. ``check_config`` builds the run as the trainer does
(``build_run``: model and its weights, warm start, optimizer, task, teacher, data loaders with
RCS statistics, val data) on one device, draws one real batch and runs the trainer's own step
(``train_step``: every stage with its backward, gradient clipping, the optimizer step, the
teacher update) at a step where every configured term is on, then reports its time and peak
memory, the peak of each stage of the step (student passes, PiXL terms, teacher pseudo-labels,
each backward, optimizer step; ``pixl.engine.memory``) and which stage set the peak. Nothing is
written to the run folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from pixl.config import ExperimentConfig, resolve_paths
from pixl.engine.distributed import make_fabric
from pixl.engine.memory import StageProfile, return_freed_blocks
from pixl.engine.preflight import preflight
from pixl.engine.run import Run, build_run
from pixl.engine.step import BatchTooSmallError, StepResult, train_step
from pixl.engine.tasks import TrainBatch


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
    stage_peaks: dict[str, int | None]
    """Each stage of the step (``pixl.engine.memory``) -> its peak in bytes above the loaded
    model (None: below the peak of an earlier stage, where the peak cannot be reset)."""
    stage_held: dict[str, int]
    """Each stage -> bytes above the loaded model already held when it began."""
    peak_stage: str | None
    """The stage that set the step's peak."""
    note: str | None = None
    """Why the batch differs from the one asked for (BatchNorm needs 2 images)."""

    def lines(self) -> list[str]:
        labelled, unlabelled = self.batch
        size = f"{self.image_size[0]}x{self.image_size[1]}"
        batch = f"{labelled} + {unlabelled}" if unlabelled else f"{labelled}"
        terms = ", ".join(f"{k} {v:.3g}" for k, v in self.terms.items())
        stages = ", ".join(
            f"{k} {'-' if v is None else f'{v / 1024**3:.2f}'}"
            + (f" ({self.stage_held[k] / 1024**3:.2f})" if k in self.stage_held else "")
            for k, v in self.stage_peaks.items()
        )
        return [
            f"data (every image and label decoded), model ({self.parameters / 1e6:.1f} M "
            "parameters), weights, optimizer: built",
            *([f"note: {self.note}"] if self.note else []),
            f"one training step on {self.device} ({self.precision}), batch {batch}, images "
            f"{size}, at step {self.step}: {self.seconds:.2f} s (first step)",
            f"peak memory: {self.peak_bytes / 1024**3:.2f} GiB ({self.memory_kind}), set by: "
            f"{self.peak_stage}",
            f"peak per stage, GiB (held when it began): {stages}",
            f"losses: {terms}",
        ]


def check_step(run: Run, step: int) -> tuple[TrainBatch, StepResult, float, StageProfile]:
    """Draw one batch and run the trainer's own step (``train_step``: every stage with its
    backward, gradient clipping, optimizer step, buffer sync, teacher update) under a memory
    profile; returns the batch, the step's result, its start time and its profile."""
    data = run.next_batch()
    profile = StageProfile(run.fabric.device)
    start = time.perf_counter()
    with profile.profiling():
        result = train_step(run, data, step=step)
    return data, result, start, profile


def check_config(config: ExperimentConfig, *, batch: int | None = None) -> CheckReport:
    """Set up ``config``'s run on one device and run one training step; see the module doc.

    ``batch``: images per step for both the labelled and the unlabelled stream (e.g. 1 to see
    a paper config's step on a CPU; a model whose BatchNorm cannot train on one image takes 2,
    noted in the report). Raises the trainer's one-line errors (``PixlError``).
    """
    config = resolve_paths(config.model_copy(deep=True))
    t = config.trainer
    if t.accelerator == "cpu" or not torch.cuda.is_available():
        return_freed_blocks()  # the RSS then follows the live tensors (pixl.engine.memory)
    t.devices, t.num_nodes, t.strategy = 1, 1, "auto"
    if batch is not None:
        t.batch_size = t.unlabelled_batch_size = batch
    preflight(config, full=True)  # every image and label decoded, not only its header
    fabric = make_fabric(t)
    fabric.launch()
    # A step where self-training and PiXL are on, if the config turns them on at all.
    step = max(config.self_training.start_step, config.pixl.start_step)
    note = None
    try:
        run = build_run(config, fabric, start_step=step)
        data, result, start, profile = check_step(run, step)
    except BatchTooSmallError:
        if batch != 1:
            raise
        note = (
            "batch 2, not 1: a BatchNorm layer of the model needs at least 2 values per channel "
            "in training (one image pooled to 1x1 has one)"
        )
        t.batch_size = t.unlabelled_batch_size = 2
        run = build_run(config, fabric, start_step=step)
        data, result, start, profile = check_step(run, step)
    cuda = profile.cuda
    if cuda:
        torch.cuda.synchronize(fabric.device)
    seconds = time.perf_counter() - start
    unlabelled = 0 if data.unlabelled is None else int(data.unlabelled["image"].shape[0])
    images = data.labelled["image"]
    return CheckReport(
        device=str(fabric.device),
        precision=str(t.precision),
        batch=(int(images.shape[0]), unlabelled),
        image_size=(int(images.shape[-2]), int(images.shape[-1])),
        parameters=sum(p.numel() for p in run.raw_model.parameters()),
        step=step,
        seconds=seconds,
        peak_bytes=profile.peak,
        memory_kind=profile.kind if cuda else f"{profile.kind} above the loaded model and data",
        stage_peaks=dict(profile.peaks),
        stage_held=dict(profile.held),
        peak_stage=profile.peak_stage,
        terms={k: float(v) for k, v in result.output.terms.items()},
        note=note,
    )
