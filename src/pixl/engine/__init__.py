"""Training: the run builder and step, the Fabric trainer, the task and its loss terms, EMA
teacher, optimiser, checkpoints."""

from pixl.engine.checkpoint import (
    CheckpointManager,
    TrainedModel,
    export_weights,
    load_checkpoint,
    load_for_inference,
    load_trained,
)
from pixl.engine.run import Loaders, Run, build_run
from pixl.engine.step import StepResult, train_step
from pixl.engine.tasks import SelfTraining, StepOutput, Task, TrainBatch
from pixl.engine.teacher import EMATeacher, ema_alpha, ema_update
from pixl.engine.trainer import NonFiniteLossError, Trainer, TrainResult, train

__all__ = [
    "CheckpointManager",
    "EMATeacher",
    "Loaders",
    "NonFiniteLossError",
    "Run",
    "SelfTraining",
    "StepOutput",
    "StepResult",
    "Task",
    "TrainBatch",
    "TrainResult",
    "TrainedModel",
    "Trainer",
    "build_run",
    "ema_alpha",
    "ema_update",
    "export_weights",
    "load_checkpoint",
    "load_for_inference",
    "load_trained",
    "train",
    "train_step",
]
