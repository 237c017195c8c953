"""The training loop on Lightning Fabric (docs/design.md, "Running, scaling, keeping results" and
"How a run flows").

The pieces come from ``build_run`` and each step is ``train_step`` (``engine/run.py``,
``engine/step.py``), shared with ``pixl check`` and the benchmarks; the trainer owns what lies
around the steps: the run folder and its lock, resuming, the callbacks (logs, checkpoints,
evaluation), signals and non-finite losses. Only the trainer saves.
"""

from __future__ import annotations

import pickle
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch.distributed as dist
from lightning_fabric import Fabric

from pixl.config import ExperimentConfig, resolve_paths, save_config
from pixl.engine.callbacks import Callback, default_callbacks
from pixl.engine.checkpoint import CheckpointManager, export_weights
from pixl.engine.distributed import make_fabric, on_rank_zero, run_then_stop, spawned
from pixl.engine.metrics import MetricWindow
from pixl.engine.preflight import preflight
from pixl.engine.run import Run, build_run, checkpoint_state, rank_state
from pixl.engine.run_folder import RunLock, open_run, resume_or_fresh
from pixl.engine.signals import StopRequest, agreed_stop, signal_name
from pixl.engine.step import train_step
from pixl.engine.tasks import StepOutput
from pixl.errors import PixlError, RunInterrupted
from pixl.evaluation import EvalReport
from pixl.evaluation.runner import evaluate_config


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
    ``run`` (the built pieces: model, optimizer, task, ...) exists while and after ``fit`` runs.
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
        self.run: Run | None = None
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
        run = self._run()
        ranks = [rank_state(run)]
        if run.fabric.world_size > 1:
            mine, ranks = ranks[0], [None] * run.fabric.world_size  # type: ignore[list-item]
            dist.all_gather_object(ranks, mine)
        path = None
        if run.fabric.is_global_zero:
            path = self.checkpoints.save(checkpoint_state(run, self.step, ranks), self.step)
        run.fabric.barrier()
        self.last_checkpoint = self.checkpoints.path_for(self.step)
        return path

    def evaluate(self, weights: Path | None = None) -> EvalReport:
        """Score the student on the val split (collective) exactly as ``pixl eval`` scores a
        checkpoint (``evaluate_config``: full-size labels, the class subsets of the labelled and
        the val dataset, a shard per rank, full precision), then call the ``on_eval`` hooks.
        ``weights``: the file holding these weights, which the report names (default: the run
        folder and step)."""
        run = self._run()
        report = evaluate_config(
            run.raw_model,
            self.config,
            source=str(weights) if weights is not None else f"{self.run_dir} at step {self.step}",
            settings=run.data.eval_settings,
            fabric=run.fabric,
            loader=run.data.val,
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
        self.run = run = build_run(self.config, fabric, resume=resume_path)
        self.step = first_step = run.start_step
        if resume_path is not None:
            self.last_checkpoint = resume_path
            fabric.print(f"resumed from {resume_path} at step {self.step}")
            if self.step >= self.max_steps:
                fabric.print(
                    f"{self.run_dir}: the run is finished (step {self.step}, trainer.max_steps="
                    f"{self.max_steps}); nothing to do (raise trainer.max_steps to train further)"
                )
                return TrainResult(
                    self.run_dir, self.step, 0.0, None, resume_path, None, first_step=self.step
                )
        on_rank_zero(
            fabric,
            open_run,
            self.lock,
            clear=resume_path is None and self.overwrite,
            resume_step=self.step if resume_path is not None else None,
            write_config=lambda path: save_config(self.config, path),
        )
        finished = False
        try:
            for callback in self.callbacks:
                callback.on_train_start(self)
            with StopRequest() as stop:
                self._loop(run, stop)
                if self.last_checkpoint != self.checkpoints.path_for(self.step):
                    self.save_checkpoint()
                if stop.requested:
                    self._stop_on_signal(stop.signum or 0)
            weights = None
            if fabric.is_global_zero:
                weights = export_weights(
                    run.raw_model, self.config, self.run_dir / "final", run.classes
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

    def _loop(self, run: Run, stop: StopRequest) -> None:
        t = self.config.trainer
        window = MetricWindow()
        bad_in_a_row = 0
        while self.step < self.max_steps:
            tic = time.perf_counter()
            result = train_step(run, run.next_batch(), step=self.step)
            output = result.output if result.finite else None
            bad_in_a_row = 0 if result.finite else bad_in_a_row + 1
            if not result.finite:
                self._warn_nonfinite(result.output, bad_in_a_row)
            self.step += 1
            window.add(output, result.after, time.perf_counter() - tic)
            if bad_in_a_row >= t.max_nonfinite:
                self._stop_nonfinite(bad_in_a_row)
            if self.step % t.log_every == 0 or self.step == self.max_steps:
                self._log(window.reduce(run.fabric))
                window = MetricWindow()
            for callback in self.callbacks:
                callback.on_step_end(self, output)
            if agreed_stop(stop, run.fabric):
                return

    def _stop_on_signal(self, signum: int) -> None:
        resume = f"pixl train {self.run_dir / 'config.yaml'} --resume auto"
        raise RunInterrupted(
            f"{signal_name(signum)}: stopped at step {self.step} of {self.max_steps}; saved "
            f"{self.last_checkpoint}; continue with: {resume}",
            signum,
            rank=self._fabric().global_rank,
        )

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
        for group in self._run().optimizer.param_groups:
            metrics[f"lr/{group.get('name', 'group')}"] = float(group["lr"])
        for callback in self.callbacks:
            callback.on_log(self, metrics)

    def _fabric(self) -> Fabric:
        if self.fabric is None:
            raise RuntimeError("the trainer is not running (call fit())")
        return self.fabric

    def _run(self) -> Run:
        if self.run is None:
            raise RuntimeError("the trainer is not running (call fit())")
        return self.run


def train(config: ExperimentConfig, **options: Any) -> TrainResult:
    """Train ``config`` with the default callbacks (see :class:`Trainer` for ``options``)."""
    return Trainer(config, **options).fit()
