"""The run builder: ``build_run(config, fabric) -> Run``, every piece a training step needs, made
once and in one order, for the trainer, ``pixl check`` and the benchmarks alike.

Order matters for exact resumes and for equal runs: seed -> model -> loss terms (FD copies the
encoder's initial weights) -> warm start -> optimizer, scheduler -> ``fabric.setup`` -> teacher ->
generator -> task -> restore (a resumed run) or re-seed per rank (a fresh one) -> loaders, which
start at the run's step. The student goes through ``fabric.setup``; the EMA teacher and the
frozen FD encoder are plain modules moved with ``fabric.to_device`` (never wrapped).
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning_fabric import Fabric
from torch import nn
from torch.optim import Optimizer

from pixl.config import ExperimentConfig
from pixl.data import DatasetInfo
from pixl.engine.build import build_model, build_task, term_context, training_classes
from pixl.engine.checkpoint import (
    capture_rng,
    check_fits,
    config_dict,
    load_checkpoint,
    restore_rng,
    warm_start,
)
from pixl.engine.loaders import BatchStream, train_loader
from pixl.engine.optim import build_optimizer, build_scheduler
from pixl.engine.tasks import Task, TrainBatch
from pixl.engine.teacher import EMATeacher
from pixl.engine.terms import build_terms
from pixl.errors import CheckpointError, one_line
from pixl.evaluation.runner import InferenceSettings, eval_loader
from pixl.models import param_groups


@dataclass(frozen=True)
class Loaders:
    """The training streams (endless, this rank's samples) and the val loader."""

    labelled: BatchStream
    unlabelled: BatchStream | None
    val: Any
    """``evaluation.runner.eval_loader``: this rank's shard of the val split."""
    eval_settings: InferenceSettings

    def next_batch(self) -> TrainBatch:
        return TrainBatch(
            labelled=next(self.labelled),
            unlabelled=next(self.unlabelled) if self.unlabelled is not None else None,
        )


@dataclass(frozen=True)
class Run:
    """What one training run is made of; built by :func:`build_run`, stepped by ``train_step``."""

    config: ExperimentConfig
    fabric: Fabric
    classes: DatasetInfo
    """The labelled data's classes (saved with the checkpoint: predicting needs no dataset)."""
    model: nn.Module
    """The student as ``fabric.setup`` returned it (DDP-wrapped on several ranks)."""
    raw_model: nn.Module
    """The unwrapped student: saved, exported, evaluated, averaged by the teacher."""
    optimizer: Optimizer
    scheduler: Any
    task: Task
    teacher: EMATeacher | None
    generator: torch.Generator
    """The task's random stream (HRDA boxes, mixing), saved per rank."""
    loaders: Loaders | None
    """None where the run was built without data (``loaders=False``: benchmarks' own batches)."""
    start_step: int = 0
    """The step the run starts at: 0, the one asked for, or a resumed checkpoint's."""
    resumed_from: Path | None = None

    @property
    def data(self) -> Loaders:
        """The loaders (a run built with ``loaders=False`` has none: ValueError)."""
        if self.loaders is None:
            raise ValueError("this run was built without loaders (loaders=False)")
        return self.loaders

    def next_batch(self) -> TrainBatch:
        return self.data.next_batch()


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_run(
    config: ExperimentConfig,
    fabric: Fabric,
    *,
    resume: Path | None = None,
    start_step: int = 0,
    loaders: bool = True,
) -> Run:
    """Every piece of ``config``'s run on ``fabric`` (launched), see the module doc.

    ``resume``: a checkpoint to continue from (its step, states and RNG); otherwise a fresh run
    (``model.init_from`` warm-starts the student) whose loaders start at batch ``start_step``.
    """
    cfg = config
    seed_all(cfg.trainer.seed)  # identical initial weights on every rank
    classes = training_classes(cfg)
    raw_model = build_model(cfg, classes.num_classes)
    # FD compares against the encoder's own initial (ImageNet) weights, not the warm start.
    terms = build_terms(term_context(cfg, raw_model, fabric.to_device))
    if cfg.model.init_from is not None and resume is None:  # a resumed run takes its checkpoint's
        warm_start(raw_model, cfg.model.init_from)
    groups = param_groups(
        raw_model,
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        head_lr_mult=cfg.optim.head_lr_mult,
    )
    optimizer = build_optimizer(groups, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.trainer.max_steps, cfg.optim)
    model, optimizer = fabric.setup(raw_model, optimizer)
    model.mark_forward_method("forward_train")  # every segmentor's training pass
    teacher = None
    if cfg.task != "supervised":
        teacher = EMATeacher(raw_model, cfg.self_training.ema_alpha)
        teacher.module = fabric.to_device(teacher.module)
    generator = torch.Generator().manual_seed(cfg.trainer.seed * 1000 + fabric.global_rank)
    task = build_task(
        cfg, model=model, raw_model=raw_model, generator=generator, teacher=teacher, terms=terms
    )
    run = Run(
        cfg, fabric, classes, model, raw_model, optimizer, scheduler, task, teacher, generator, None
    )
    if resume is not None:
        start_step = restore(run, resume)
    else:
        seed_all(cfg.trainer.seed + fabric.global_rank)
    data = build_loaders(cfg, fabric, start_batch=start_step) if loaders else None
    return replace(run, loaders=data, start_step=start_step, resumed_from=resume)


def build_loaders(config: ExperimentConfig, fabric: Fabric, *, start_batch: int) -> Loaders:
    """This rank's training streams from batch ``start_batch`` on, and the val loader (made before
    the first step: a bad val split or eval setting fails before training)."""
    t = config.trainer
    common = {
        "num_workers": t.num_workers,
        "seed": t.seed,
        "rank": fabric.global_rank,
        "world_size": fabric.world_size,
        "start_batch": start_batch,
    }
    labelled = train_loader(
        config.data.labelled, labelled=True, batch_size=t.batch_size, rcs=config.data.rcs, **common
    )
    labelled_stream = BatchStream(fabric.setup_dataloaders(labelled, use_distributed_sampler=False))
    unlabelled = None
    if config.data.unlabelled is not None:
        loader = train_loader(
            config.data.unlabelled, labelled=False, batch_size=t.unlabelled_batch_size, **common
        )
        unlabelled = BatchStream(fabric.setup_dataloaders(loader, use_distributed_sampler=False))
    return Loaders(
        labelled=labelled_stream,
        unlabelled=unlabelled,
        eval_settings=InferenceSettings.from_config(config),
        val=eval_loader(
            config, rank=fabric.global_rank, world_size=fabric.world_size, num_workers=t.num_workers
        ),
    )


def restore(run: Run, path: Path) -> int:
    """Load the checkpoint at ``path`` into ``run`` (weights, optimizer, scheduler, task, this
    rank's random streams); returns its step."""
    fabric = run.fabric
    state = load_checkpoint(path, map_location="cpu")
    check_fits(state, run.raw_model, run.config, path)
    run.raw_model.load_state_dict(state["model"])
    try:
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        run.task.load_state_dict(state["task"])
    except (KeyError, ValueError, RuntimeError) as error:
        first = one_line(error)
        raise CheckpointError(
            f"{path}: the optimizer or task state does not fit this config ({first}); "
            "resume with the config it was saved with"
        ) from None
    step = int(state["step"])
    ranks = state["ranks"]
    if len(ranks) == fabric.world_size:
        restore_rng(ranks[fabric.global_rank]["rng"])
        run.generator.set_state(ranks[fabric.global_rank]["generator"])
    else:
        warnings.warn(
            f"{path}: saved with {len(ranks)} processes, resumed with {fabric.world_size}; "
            "random streams are re-seeded (the run continues, not bit-exactly)",
            stacklevel=2,
        )
        seed_all(run.config.trainer.seed + 7919 * step + fabric.global_rank)
    return step


def rank_state(run: Run) -> dict[str, Any]:
    """This rank's random streams, as the checkpoint keeps them per rank."""
    return {"rng": capture_rng(), "generator": run.generator.get_state()}


def checkpoint_state(run: Run, step: int, ranks: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``RUN/checkpoints/step_N.pt`` holds (``restore`` reads it back)."""
    return {
        "step": step,
        "config": config_dict(run.config),
        "model": run.raw_model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "task": run.task.state_dict(),
        "ranks": ranks,
        "classes": run.classes.to_dict(),  # predicting needs no dataset folder
    }
