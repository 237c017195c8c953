"""Side effects of a training run, as callbacks: progress bar, TensorBoard, JSONL metrics,
checkpoints and periodic evaluation. Hooks run on every rank; writers act on rank 0 only.

Hooks (all optional): ``on_train_start(trainer)``, ``on_step_end(trainer, output)``,
``on_log(trainer, metrics)``, ``on_eval(trainer, report)``, ``on_train_end(trainer)``.
``trainer.step`` is the number of optimizer steps done.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pixl.engine.metrics import loss_terms

if TYPE_CHECKING:
    from pixl.engine.tasks import StepOutput
    from pixl.engine.trainer import Trainer
    from pixl.evaluation import EvalReport


class Callback:
    """Base class: every hook does nothing."""

    def on_train_start(self, trainer: Trainer) -> None: ...

    def on_step_end(self, trainer: Trainer, output: StepOutput | None) -> None: ...

    def on_log(self, trainer: Trainer, metrics: dict[str, float]) -> None: ...

    def on_eval(self, trainer: Trainer, report: EvalReport) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...


class ProgressBar(Callback):
    """A rich progress bar with ETA and every loss term of the last log (rank 0)."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task_id: Any = None

    def on_train_start(self, trainer: Trainer) -> None:
        if not trainer.is_global_zero:
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[terms]}"),
        )
        self.progress.start()
        total = trainer.config.trainer.max_steps
        self.task_id = self.progress.add_task(
            trainer.config.name, total=total, completed=trainer.step, terms=""
        )

    def on_step_end(self, trainer: Trainer, output: StepOutput | None) -> None:
        if self.progress is not None:
            self.progress.update(self.task_id, completed=trainer.step)

    def on_log(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if self.progress is None:
            return
        shown = [f"{k}={v:.3f}" for k, v in loss_terms(metrics).items()]
        self.progress.update(self.task_id, terms=" ".join(shown))

    def on_eval(self, trainer: Trainer, report: EvalReport) -> None:
        if self.progress is not None:
            self.progress.console.print(f"step {trainer.step}: val mIoU {100 * report.miou:.2f}")

    def on_train_end(self, trainer: Trainer) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class TensorBoardLogger(Callback):
    """Scalars of every logged metric and the val mIoU / per-class IoU (rank 0)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.writer: Any = None

    def on_train_start(self, trainer: Trainer) -> None:
        if trainer.is_global_zero:
            from torch.utils.tensorboard import SummaryWriter

            # A resumed run drops the events after its checkpoint's step (a killed run may have
            # logged them); the checkpoint's own step stays.
            purge = trainer.step + 1 if trainer.step else None
            self.writer = SummaryWriter(str(self.directory), purge_step=purge)

    def on_log(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in metrics.items():
                self.writer.add_scalar(key, value, trainer.step)

    def on_eval(self, trainer: Trainer, report: EvalReport) -> None:
        if self.writer is None:
            return
        self.writer.add_scalar("val/mIoU", report.miou, trainer.step)
        for name, iou in report.per_class_iou.items():
            if not math.isnan(iou):
                self.writer.add_scalar(f"val_iou/{name}", iou, trainer.step)
        self.writer.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class JsonlLogger(Callback):
    """One JSON object per line: ``{"step", "kind": "train"|"val", ...}`` (rank 0)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _write(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if trainer.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as handle:
                handle.write(
                    json.dumps({"step": trainer.step, "time": time.time(), **record}) + "\n"
                )

    def on_log(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        self._write(trainer, {"kind": "train", **metrics})

    def on_eval(self, trainer: Trainer, report: EvalReport) -> None:
        self._write(trainer, {"kind": "val", **report.to_dict()})


def due(every: int, trainer: Trainer) -> bool:
    """Every ``every`` steps (0: never), before the last step (the trainer's end covers it)."""
    return bool(every) and trainer.step % every == 0 and trainer.step < trainer.max_steps


class PeriodicCheckpoint(Callback):
    """A checkpoint every ``every`` steps (0: none here; the trainer always saves at the end)."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_step_end(self, trainer: Trainer, output: StepOutput | None) -> None:
        if due(self.every, trainer):
            trainer.save_checkpoint()


class PeriodicEvaluation(Callback):
    """Evaluate on the val split every ``every`` steps (collective: runs on every rank)."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_step_end(self, trainer: Trainer, output: StepOutput | None) -> None:
        if due(self.every, trainer):
            trainer.evaluate()


def default_callbacks(trainer_dir: str | Path, config: Any) -> list[Callback]:
    """What ``pixl train`` uses: progress (if enabled), TensorBoard, JSONL, checkpoints, eval."""
    run = Path(trainer_dir)
    callbacks: list[Callback] = [
        TensorBoardLogger(run / "tensorboard"),
        JsonlLogger(run / "metrics.jsonl"),
        PeriodicCheckpoint(config.trainer.checkpoint_every),
        PeriodicEvaluation(config.trainer.eval_every),
    ]
    if config.trainer.progress_bar:
        callbacks.insert(0, ProgressBar())
    return callbacks
