"""The training loop on Lightning Fabric (docs/design.md, "Running, scaling, keeping results" and
"How a run flows").

Fabric gives accelerator, devices, DDP and precision from the config. The student goes through
``fabric.setup``; the EMA teacher and the frozen FD encoder are plain modules moved with
``fabric.to_device`` (never wrapped). Only the trainer runs backward, steps, logs and saves.
"""

from __future__ import annotations

import pickle
import random
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning_fabric import Fabric

from pixl.config import ExperimentConfig, resolve_paths, save_config
from pixl.engine.build import (
    build_feature_distance,
    build_model,
    build_task,
    training_classes,
)
from pixl.engine.callbacks import Callback, default_callbacks
from pixl.engine.checkpoint import (
    CheckpointManager,
    capture_rng,
    check_fits,
    config_dict,
    export_weights,
    load_checkpoint,
    restore_rng,
    warm_start,
)
from pixl.engine.distributed import make_fabric, on_rank_zero, run_then_stop, spawned
from pixl.engine.loaders import BatchStream, train_loader
from pixl.engine.memory import memory_stage
from pixl.engine.metrics import MetricWindow
from pixl.engine.optim import build_optimizer, build_scheduler
from pixl.engine.preflight import preflight
from pixl.engine.run_folder import RunLock, open_run, resume_or_fresh
from pixl.engine.signals import StopRequest, agreed_stop, signal_name
from pixl.engine.tasks import StepOutput, TrainBatch, merge_stages
from pixl.engine.teacher import EMATeacher
from pixl.errors import CheckpointError, ConfigError, PixlError, RunInterrupted, one_line
from pixl.evaluation import EvalReport
from pixl.evaluation.runner import InferenceSettings, eval_loader, evaluate_config
from pixl.models import param_groups


class BatchTooSmallError(ConfigError):
    """A BatchNorm layer got one value per channel in training (batch 1 pooled to 1x1)."""


class NonFiniteLossError(PixlError):
    """Too many consecutive non-finite losses; the run stopped after saving a checkpoint."""


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    seconds: float
    report: EvalReport | None
    checkpoint: Path | None
    weights: Path | None
    first_step: int = 0
    """The step this process started from (a resumed run: its checkpoint's step)."""

    @property
    def steps_run(self) -> int:
        """Steps this process trained (``steps`` counts from the run's start)."""
        return self.steps - self.first_step


class Trainer:
    """``Trainer(config, resume=None | "auto" | path).fit() -> TrainResult``.

    A fresh run refuses a run folder that already holds checkpoints unless ``overwrite``.
    ``callbacks=None`` uses :func:`default_callbacks`; ``final_eval`` scores the val split at the end.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        *,
        resume: str | None = None,
        overwrite: bool = False,
        callbacks: list[Callback] | None = None,
        final_eval: bool = True,
    ) -> None:
        # Relative folders are resolved once, here, and saved resolved in RUN/config.yaml.
        self.config = config = resolve_paths(config)
        self.resume = resume
        self.overwrite = overwrite
        self.run_dir = Path(config.run_dir)
        self.callbacks = (
            default_callbacks(self.run_dir, config) if callbacks is None else list(callbacks)
        )
        self.final_eval = final_eval
        self.max_steps = config.trainer.max_steps
        self.step = 0
        self.last_report: EvalReport | None = None
        self.fabric: Fabric | None = None
        self.checkpoints = CheckpointManager(self.run_dir / "checkpoints", config.trainer.keep_last)
        self.last_checkpoint: Path | None = None
        self.lock = RunLock(self.run_dir)

    # --- public ---------------------------------------------------------------------------

    def fit(self) -> TrainResult:
        fabric = make_fabric(self.config.trainer)
        if self.config.trainer.strategy == "ddp_spawn":
            result: TrainResult = pickle.loads(fabric.launch(spawned, self._fit))
            self.step = result.steps
            return result
        fabric.launch()
        return run_then_stop(self._fit, fabric)

    @property
    def is_global_zero(self) -> bool:
        return self.fabric is None or self.fabric.is_global_zero

    def save_checkpoint(self) -> Path | None:
        """Write ``RUN/checkpoints/step_N.pt`` (collective: every rank must call it)."""
        fabric = self._fabric()
        mine = {"rng": capture_rng(), "generator": self.generator.get_state()}
        ranks = [mine]
        if fabric.world_size > 1:
            ranks = [None] * fabric.world_size  # type: ignore[list-item]
            dist.all_gather_object(ranks, mine)
        path = None
        if fabric.is_global_zero:
            state = {
                "step": self.step,
                "config": config_dict(self.config),
                "model": self.raw_model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "task": self.task.state_dict(),
                "ranks": ranks,
                "classes": self.classes.to_dict(),  # predicting needs no dataset folder
            }
            path = self.checkpoints.save(state, self.step)
        fabric.barrier()
        self.last_checkpoint = self.checkpoints.path_for(self.step)
        return path

    def evaluate(self, weights: Path | None = None) -> EvalReport:
        """Score the student on the val split (collective) exactly as ``pixl eval`` scores a
        checkpoint (``evaluate_config``: full-size labels, the class subsets of the labelled and
        the val dataset, a shard per rank, full precision), then call the ``on_eval`` hooks.
        ``weights``: the file holding these weights, which the report names (default: the run
        folder and step)."""
        report = evaluate_config(
            self.raw_model,
            self.config,
            source=str(weights) if weights is not None else f"{self.run_dir} at step {self.step}",
            settings=self.eval_settings,
            fabric=self._fabric(),
            loader=self.val_loader,
        )
        self.last_report = report
        for callback in self.callbacks:
            callback.on_eval(self, report)
        return report

    # --- the run --------------------------------------------------------------------------

    def _fit(self, fabric: Fabric) -> TrainResult:
        start = time.perf_counter()
        self.fabric = fabric
        # Nothing is written until the checkpoint, model and data are known to fit together.
        preflight(self.config)  # classes agree, every file opens, sizes match: before step 1
        resume_path = self._resume_path()
        self._setup(fabric, fresh=resume_path is None)
        if resume_path is not None:
            self._restore(resume_path)
            if self.step >= self.max_steps:
                fabric.print(
                    f"{self.run_dir}: the run is finished (step {self.step}, trainer.max_steps="
                    f"{self.max_steps}); nothing to do (raise trainer.max_steps to train further)"
                )
                return TrainResult(
                    self.run_dir, self.step, 0.0, None, resume_path, None, first_step=self.step
                )
        else:
            _seed_all(self.config.trainer.seed + fabric.global_rank)
        self._setup_data(fabric)
        on_rank_zero(
            fabric,
            open_run,
            self.lock,
            clear=resume_path is None and self.overwrite,
            resume_step=self.step if resume_path is not None else None,
            write_config=lambda path: save_config(self.config, path),
        )
        first_step, finished = self.step, False
        try:
            for callback in self.callbacks:
                callback.on_train_start(self)
            with StopRequest() as stop:
                self._loop(fabric, stop)
                if self.last_checkpoint != self.checkpoints.path_for(self.step):
                    self.save_checkpoint()
                if stop.requested:
                    self._stop_on_signal(stop.signum or 0)
            weights = None
            if fabric.is_global_zero:
                weights = export_weights(
                    self.raw_model, self.config, self.run_dir / "final", self.classes
                )
            report = self.evaluate(self.last_checkpoint) if self.final_eval else None
            if report is not None and fabric.is_global_zero:
                report.to_json(self.run_dir / "eval" / "report.json")
            finished = True
        finally:
            for callback in self.callbacks:
                callback.on_train_end(self)
            if not finished and self.step == first_step:
                # Not one step done (a bad first batch, say): a fresh run leaves nothing behind.
                self.lock.abandon(clear=resume_path is None)
            else:
                self.lock.release()
        return TrainResult(
            run_dir=self.run_dir,
            steps=self.step,
            seconds=time.perf_counter() - start,
            report=report,
            checkpoint=self.last_checkpoint,
            weights=weights,
            first_step=first_step,
        )

    def _resume_path(self) -> Path | None:
        """The checkpoint to resume from, after the read-only checks of the run folder."""
        fabric = self._fabric()
        # Rank 0 (the lock's holder-to-be) judges a lock: another node cannot tell a dead pid.
        on_rank_zero(fabric, self.lock.check)
        path = resume_or_fresh(self.resume, self.lock, self.checkpoints, overwrite=self.overwrite)
        fabric.barrier()  # every rank has read the folder before rank 0 changes it
        if path is None and self.resume == "auto":
            fabric.print(f"{self.run_dir}: no checkpoint to resume from; starting afresh")
        return path

    def _setup(self, fabric: Fabric, *, fresh: bool) -> None:
        cfg = self.config
        _seed_all(cfg.trainer.seed)  # identical initial weights on every rank
        self.classes = training_classes(cfg)
        raw_model = build_model(cfg, self.classes.num_classes)
        # FD compares against the encoder's own initial (ImageNet) weights, not the warm start.
        feature_distance = build_feature_distance(cfg, raw_model)
        if cfg.model.init_from is not None and fresh:  # a resumed run takes its checkpoint's
            warm_start(raw_model, cfg.model.init_from)
        groups = param_groups(
            raw_model,
            lr=cfg.optim.lr,
            weight_decay=cfg.optim.weight_decay,
            head_lr_mult=cfg.optim.head_lr_mult,
        )
        optimizer = build_optimizer(groups, cfg.optim)
        self.scheduler = build_scheduler(optimizer, self.max_steps, cfg.optim)
        model, self.optimizer = fabric.setup(raw_model, optimizer)
        model.mark_forward_method("forward_train")  # every segmentor's training pass
        self.model, self.raw_model = model, raw_model
        teacher = None
        if cfg.task != "supervised":
            teacher = EMATeacher(raw_model, cfg.self_training.ema_alpha)
            teacher.module = fabric.to_device(teacher.module)
        if feature_distance is not None:
            feature_distance = fabric.to_device(feature_distance)
        self.generator = torch.Generator().manual_seed(cfg.trainer.seed * 1000 + fabric.global_rank)
        self.task = build_task(
            cfg,
            model=model,
            raw_model=raw_model,
            generator=self.generator,
            teacher=teacher,
            feature_distance=feature_distance,
        )

    def _restore(self, path: Path) -> None:
        fabric = self._fabric()
        state = load_checkpoint(path, map_location="cpu")
        check_fits(state, self.raw_model, self.config, path)
        self.raw_model.load_state_dict(state["model"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.task.load_state_dict(state["task"])
        except (KeyError, ValueError, RuntimeError) as error:
            first = one_line(error)
            raise CheckpointError(
                f"{path}: the optimizer or task state does not fit this config ({first}); "
                "resume with the config it was saved with"
            ) from None
        self.step = int(state["step"])
        ranks = state["ranks"]
        if len(ranks) == fabric.world_size:
            restore_rng(ranks[fabric.global_rank]["rng"])
            self.generator.set_state(ranks[fabric.global_rank]["generator"])
        else:
            warnings.warn(
                f"{path}: saved with {len(ranks)} processes, resumed with {fabric.world_size}; "
                "random streams are re-seeded (the run continues, not bit-exactly)",
                stacklevel=2,
            )
            _seed_all(self.config.trainer.seed + 7919 * self.step + fabric.global_rank)
        self.last_checkpoint = path
        fabric.print(f"resumed from {path} at step {self.step}")

    def _setup_data(self, fabric: Fabric) -> None:
        cfg, t = self.config, self.config.trainer
        common = {
            "num_workers": t.num_workers,
            "seed": t.seed,
            "rank": fabric.global_rank,
            "world_size": fabric.world_size,
            "start_batch": self.step,
        }
        labelled = train_loader(
            cfg.data.labelled, labelled=True, batch_size=t.batch_size, rcs=cfg.data.rcs, **common
        )
        self.labelled = BatchStream(
            fabric.setup_dataloaders(labelled, use_distributed_sampler=False)
        )
        self.unlabelled = None
        if cfg.data.unlabelled is not None:
            unlabelled = train_loader(
                cfg.data.unlabelled, labelled=False, batch_size=t.unlabelled_batch_size, **common
            )
            self.unlabelled = BatchStream(
                fabric.setup_dataloaders(unlabelled, use_distributed_sampler=False)
            )
        # Made before the first step: a bad val split or eval setting fails before training.
        self.eval_settings = InferenceSettings.from_config(cfg)
        self.val_loader = eval_loader(
            cfg, rank=fabric.global_rank, world_size=fabric.world_size, num_workers=t.num_workers
        )

    def _loop(self, fabric: Fabric, stop: StopRequest) -> None:
        t = self.config.trainer
        window = MetricWindow()
        bad_in_a_row = 0
        while self.step < self.max_steps:
            tic = time.perf_counter()
            batch = TrainBatch(
                labelled=next(self.labelled),
                unlabelled=next(self.unlabelled) if self.unlabelled is not None else None,
            )
            output, finite = self._backward_stages(fabric, batch)
            if finite:
                if self.config.optim.grad_clip is not None:
                    fabric.clip_gradients(
                        self.model, self.optimizer, max_norm=self.config.optim.grad_clip
                    )
                self.optimizer.step()
                self._sync_buffers()
                after = self.task.after_optimizer_step(self.step)
                bad_in_a_row = 0
            else:
                bad_in_a_row += 1
                after = {}
                self._warn_nonfinite(output, bad_in_a_row)
            self.optimizer.zero_grad(set_to_none=True)
            self.scheduler.step()
            self.step += 1
            window.add(output if finite else None, after, time.perf_counter() - tic)
            if bad_in_a_row >= t.max_nonfinite:
                self._stop_nonfinite(bad_in_a_row)
            if self.step % t.log_every == 0 or self.step == self.max_steps:
                self._log(window.reduce(fabric))
                window = MetricWindow()
            for callback in self.callbacks:
                callback.on_step_end(self, output if finite else None)
            if agreed_stop(stop, fabric):
                return

    def _stop_on_signal(self, signum: int) -> None:
        resume = f"pixl train {self.run_dir / 'config.yaml'} --resume auto"
        error = RunInterrupted(
            f"{signal_name(signum)}: stopped at step {self.step} of {self.max_steps}; saved "
            f"{self.last_checkpoint}; continue with: {resume}",
            signum,
        )
        error.rank = self._fabric().global_rank  # type: ignore[attr-defined]
        raise error

    def _sync_buffers(self) -> None:
        """Rank 0's BatchNorm statistics everywhere (as DDP does before the next forward), so the
        teacher averages the same student on every rank."""
        if self._fabric().world_size > 1:
            for buffer in self.raw_model.buffers():
                dist.broadcast(buffer, src=0)

    def _backward_stages(self, fabric: Fabric, batch: TrainBatch) -> tuple[StepOutput, bool]:
        """Run the task's loss stages, backpropagating each before the next is computed (the
        source terms free their graph before the mixed pass: HRDA's memory order; gradients
        accumulate to the single-backward ones). Stops at the first non-finite stage; returns
        the step's merged output and whether every stage was finite (then the step is taken)."""
        stages = self.task.training_stages(batch, step=self.step)
        done: list[StepOutput] = []
        finite = True
        while True:
            with fabric.autocast():
                stage = self._next_stage(stages)
            if stage is None:
                break
            done.append(stage)
            finite = self._all_finite(stage.loss)
            if not finite:
                stages.close()
                break
            with memory_stage(f"backward, stage {len(done)}"):
                fabric.backward(stage.loss)
        return merge_stages(done, detach=True), finite

    def _next_stage(self, stages: Iterator[StepOutput]) -> StepOutput | None:
        try:
            return next(stages, None)
        except ValueError as error:
            if "more than 1 value per channel" not in str(error):
                raise
            t = self.config.trainer
            sizes = f"trainer.batch_size={t.batch_size}"
            if self.config.task != "supervised":
                sizes += f", trainer.unlabelled_batch_size={t.unlabelled_batch_size}"
            raise BatchTooSmallError(
                f"{sizes}: a BatchNorm layer of the model gets one value per channel in training "
                "(one image pooled to 1x1); use batch sizes of 2 or more"
            ) from None

    def _all_finite(self, loss: torch.Tensor) -> bool:
        fabric = self._fabric()
        bad = (~torch.isfinite(loss.detach())).float().reshape(1)
        if fabric.world_size > 1:
            bad = fabric.all_reduce(bad, reduce_op="sum")
        return bool(bad.item() == 0)

    def _warn_nonfinite(self, output: StepOutput, count: int) -> None:
        if self.is_global_zero:
            terms = ", ".join(f"{k}={float(v):.4g}" for k, v in output.terms.items())
            warnings.warn(
                f"step {self.step}: non-finite loss ({terms}); step skipped "
                f"({count} in a row, the run stops at {self.config.trainer.max_nonfinite})",
                RuntimeWarning,
                stacklevel=2,
            )

    def _stop_nonfinite(self, count: int) -> None:
        path = self.save_checkpoint()
        raise NonFiniteLossError(
            f"{self.run_dir}: {count} consecutive steps had a non-finite loss (last at step "
            f"{self.step}); stopped and saved {path or self.checkpoints.path_for(self.step)}. "
            "Lower optim.lr, set optim.grad_clip, or use trainer.precision=32-true"
        )

    def _log(self, metrics: dict[str, float]) -> None:
        for group in self.optimizer.param_groups:
            metrics[f"lr/{group.get('name', 'group')}"] = float(group["lr"])
        for callback in self.callbacks:
            callback.on_log(self, metrics)

    def _fabric(self) -> Fabric:
        if self.fabric is None:
            raise RuntimeError("the trainer is not running (call fit())")
        return self.fabric


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train(config: ExperimentConfig, **options: Any) -> TrainResult:
    """Train ``config`` with the default callbacks (see :class:`Trainer` for ``options``)."""
    return Trainer(config, **options).fit()
