"""Training tasks: ``training_stages(batch, step=...)`` yields the step's losses (``StepOutput``)
in the order the trainer backpropagates them; ``training_step`` is their sum (one backward)."""

from pixl.engine.tasks.base import StepOutput, TrainBatch
from pixl.engine.tasks.semi import SemiSupervisedTask
from pixl.engine.tasks.supervised import SupervisedTask, merge_stages
from pixl.engine.tasks.uda import UDATask

__all__ = [
    "SemiSupervisedTask",
    "StepOutput",
    "SupervisedTask",
    "TrainBatch",
    "UDATask",
    "merge_stages",
]
