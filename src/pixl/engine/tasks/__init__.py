"""Training tasks: ``training_step(batch, step=...) -> StepOutput`` for each learning setting."""

from pixl.engine.tasks.base import StepOutput, TrainBatch
from pixl.engine.tasks.semi import SemiSupervisedTask
from pixl.engine.tasks.supervised import SupervisedTask
from pixl.engine.tasks.uda import UDATask

__all__ = [
    "SemiSupervisedTask",
    "StepOutput",
    "SupervisedTask",
    "TrainBatch",
    "UDATask",
]
