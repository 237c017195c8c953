"""One training step of a :class:`~pixl.engine.run.Run`: ``train_step(run, batch, step=...)``,
exactly what the trainer does per step and what ``pixl check`` times.

The task's stages are backpropagated one by one (the source terms free their graph before the
mixed pass: HRDA's memory order; gradients accumulate to the single-backward ones); a
non-finite stage stops the step (nothing is updated); otherwise gradient clipping
(``optim.grad_clip``), the optimizer step, rank 0's BatchNorm buffers on every rank, the task's
update (the EMA teacher); then the gradients are cleared and the scheduler steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from pixl.config import ExperimentConfig
from pixl.engine.memory import memory_stage
from pixl.engine.run import Run
from pixl.engine.tasks import StepOutput, TrainBatch, merge_stages
from pixl.errors import ConfigError


class BatchTooSmallError(ConfigError):
    """A BatchNorm layer got one value per channel in training (batch 1 pooled to 1x1)."""


@dataclass(frozen=True)
class StepResult:
    """What one step did: its merged, detached output; whether it was finite (then the optimizer
    stepped); what the task's update returned (``teacher/alpha``; empty when skipped)."""

    output: StepOutput
    finite: bool
    after: dict[str, Tensor]


def train_step(run: Run, batch: TrainBatch, *, step: int) -> StepResult:
    """Run ``run``'s step number ``step`` on ``batch`` (see the module doc)."""
    output, finite = backward_stages(run, batch, step)
    after: dict[str, Tensor] = {}
    if finite:
        if run.config.optim.grad_clip is not None:
            run.fabric.clip_gradients(run.model, run.optimizer, max_norm=run.config.optim.grad_clip)
        with memory_stage("optimizer step"):
            run.optimizer.step()
        sync_buffers(run)
        with memory_stage("teacher update"):
            after = run.task.after_optimizer_step(step)
    run.optimizer.zero_grad(set_to_none=True)
    run.scheduler.step()
    return StepResult(output, finite, after)


def backward_stages(run: Run, batch: TrainBatch, step: int) -> tuple[StepOutput, bool]:
    """Run the task's loss stages, backpropagating each before the next is computed. Stops at the
    first non-finite stage; returns the step's merged output and whether every stage was finite."""
    stages = run.task.training_stages(batch, step=step)
    done: list[StepOutput] = []
    finite = True
    while True:
        with run.fabric.autocast():
            stage = _next_stage(stages, run.config)
        if stage is None:
            break
        done.append(stage)
        finite = all_finite(run, stage.loss)
        if not finite:
            stages.close()
            break
        with memory_stage(f"backward, stage {len(done)}"):
            run.fabric.backward(stage.loss)
    return merge_stages(done, detach=True), finite


def _next_stage(stages: Iterator[StepOutput], config: ExperimentConfig) -> StepOutput | None:
    try:
        return next(stages, None)
    except ValueError as error:
        if "more than 1 value per channel" not in str(error):
            raise
        t = config.trainer
        sizes = f"trainer.batch_size={t.batch_size}"
        if config.task != "supervised":
            sizes += f", trainer.unlabelled_batch_size={t.unlabelled_batch_size}"
        raise BatchTooSmallError(
            f"{sizes}: a BatchNorm layer of the model gets one value per channel in training "
            "(one image pooled to 1x1); use batch sizes of 2 or more"
        ) from None


def all_finite(run: Run, loss: Tensor) -> bool:
    """Whether ``loss`` is finite on every rank (all ranks skip a step together)."""
    bad = (~torch.isfinite(loss.detach())).float().reshape(1)
    if run.fabric.world_size > 1:
        bad = run.fabric.all_reduce(bad, reduce_op="sum")
    return bool(bad.item() == 0)


def sync_buffers(run: Run) -> None:
    """Rank 0's BatchNorm statistics everywhere (as DDP does before the next forward), so the
    teacher averages the same student on every rank."""
    if run.fabric.world_size > 1:
        for buffer in run.raw_model.buffers():
            dist.broadcast(buffer, src=0)
