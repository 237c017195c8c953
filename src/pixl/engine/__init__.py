"""Training: Fabric trainer, tasks (supervised / semi / uda), EMA teacher, optimiser, checkpoints."""

from pixl.engine.checkpoint import (
    CheckpointManager,
    TrainedModel,
    export_weights,
    load_checkpoint,
    load_for_inference,
    load_trained,
)
from pixl.engine.tasks import (
    SemiSupervisedTask,
    StepOutput,
    SupervisedTask,
    TrainBatch,
    UDATask,
)
from pixl.engine.teacher import EMATeacher, ema_alpha, ema_update
from pixl.engine.trainer import NonFiniteLossError, Trainer, TrainResult, train

__all__ = [
    "CheckpointManager",
    "EMATeacher",
    "NonFiniteLossError",
    "SemiSupervisedTask",
    "StepOutput",
    "SupervisedTask",
    "TrainBatch",
    "TrainResult",
    "TrainedModel",
    "Trainer",
    "UDATask",
    "ema_alpha",
    "ema_update",
    "export_weights",
    "load_checkpoint",
    "load_for_inference",
    "load_trained",
    "train",
]
