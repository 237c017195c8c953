"""The training task: ``training_stages(batch, step=...)`` yields the step's losses (``StepOutput``)
in the order the trainer backpropagates them; ``training_step`` is their sum (one backward)."""

from pixl.engine.tasks.base import StepOutput, TrainBatch, merge_stages
from pixl.engine.tasks.self_training import SelfTraining
from pixl.engine.tasks.task import Task

__all__ = ["SelfTraining", "StepOutput", "Task", "TrainBatch", "merge_stages"]
