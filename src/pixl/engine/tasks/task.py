"""The task: one step's passes and the loss terms that read them (docs/design.md, "Task and its
loss terms").

Each step runs the labelled pass; with self-training (from ``self_training.start_step``) also
the mixed pass. Every active term reads some of the passes; the terms that read the labelled pass
only form the first stage, which the trainer backpropagates before the mixed pass runs (HRDA's
memory order: the two graphs are never alive together; the gradients are the single-backward
ones). A term that reads both passes (``pixl.group: joint``) keeps them in one stage.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pixl.engine.memory import memory_stage
from pixl.engine.tasks.base import StepOutput, TrainBatch, finish, merge_stages, student_forward
from pixl.engine.tasks.self_training import SelfTraining
from pixl.engine.terms import LABELLED, MIXED, LossTerm, Pass, PassName, TermOutput

Plan = list[tuple[LossTerm, tuple[PassName, ...]]]
"""The active terms of a stage with the passes each reads, in term-list order."""


class Task:
    """``loss = sum of the terms`` (eq. 17) over the labelled pass and, with ``self_training``,
    the mixed pass.

    ``model`` is what the trainer set up (possibly DDP-wrapped); ``generator`` draws the HRDA
    detail boxes (and, through ``self_training``, the mixing) and is saved per rank.
    """

    def __init__(
        self,
        model: nn.Module,
        generator: torch.Generator,
        terms: Sequence[LossTerm],
        self_training: SelfTraining | None = None,
    ) -> None:
        self.model = model
        self.generator = generator
        self.terms = list(terms)
        self.self_training = self_training

    def training_stages(self, batch: TrainBatch, *, step: int) -> Iterator[StepOutput]:
        """The step's losses in the order the trainer backpropagates them (one or two stages)."""
        mixed = self.self_training is not None and self.self_training.active(step)
        available = (LABELLED, MIXED) if mixed else (LABELLED,)
        reads = [(term, term.reads(step, available)) for term in self.terms]
        first = [(t, r) for t, r in reads if r and MIXED not in r]
        second = [(t, r) for t, r in reads if MIXED in r]
        passes: dict[PassName, Pass] = {}
        labelled = batch.labelled
        terms, stats = self._run_pass(
            LABELLED, labelled["image"], labelled["label"], None, first, passes, step
        )
        if not mixed:
            yield finish(terms, stats)
            return
        if any(LABELLED in r for _, r in second):  # a term groups both passes: one stage
            more_terms, more_stats = self._mixed_pass(batch, second, passes, step)
            yield finish({**terms, **more_terms}, {**stats, **more_stats})
            return
        passes.clear()  # the labelled outputs go with their graph once the stage is backpropagated
        yield finish(terms, stats)
        del terms
        yield finish(*self._mixed_pass(batch, second, passes, step))

    def training_step(self, batch: TrainBatch, *, step: int) -> StepOutput:
        """All stages in one loss (one backward: both graphs alive together)."""
        return merge_stages(list(self.training_stages(batch, step=step)))

    def _mixed_pass(
        self, batch: TrainBatch, plan: Plan, passes: dict[PassName, Pass], step: int
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        if self.self_training is None:
            raise ValueError("a mixed pass needs self-training")
        with memory_stage("teacher pseudo-labels + mixing"):
            images, labels, weight, pseudo_stats = self.self_training.mixed_inputs(batch)
        terms, stats = self._run_pass(MIXED, images, labels, weight, plan, passes, step)
        return terms, {**pseudo_stats, **stats}

    def _run_pass(
        self,
        name: PassName,
        images: Tensor,
        labels: Tensor,
        weight: Tensor | None,
        plan: Plan,
        passes: dict[PassName, Pass],
        step: int,
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """The student's pass ``name`` and the terms of ``plan``, their outputs in plan order."""
        with_pass = [i for i, (t, r) in enumerate(plan) if t.with_pass and r == (name,)]
        stage = " + ".join([f"{name} pass", *(plan[i][0].label(plan[i][1]) for i in with_pass)])
        outputs: dict[int, TermOutput] = {}
        with memory_stage(stage):
            forward = student_forward(self.model, images, self.generator)
            passes[name] = Pass(forward, labels, weight)
            for i in with_pass:
                outputs[i] = plan[i][0](_only(passes, plan[i][1]), step)
        for i, (term, read) in enumerate(plan):
            if i not in outputs:
                with memory_stage(term.label(read)):
                    outputs[i] = term(_only(passes, read), step)
        terms = {k: v for i in sorted(outputs) for k, v in outputs[i].terms.items()}
        stats = {k: v for i in sorted(outputs) for k, v in outputs[i].stats.items()}
        return terms, stats

    def after_optimizer_step(self, step: int) -> dict[str, Tensor]:
        """The teacher's update (self-training); nothing otherwise."""
        return {} if self.self_training is None else self.self_training.after_optimizer_step(step)

    def state_dict(self) -> dict[str, Any]:
        """Shared (rank-independent) task state; the generator is saved per rank by the trainer."""
        return {} if self.self_training is None else self.self_training.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.self_training is not None:
            self.self_training.load_state_dict(state)


def _only(passes: dict[PassName, Pass], names: tuple[PassName, ...]) -> dict[PassName, Pass]:
    return {name: passes[name] for name in names}
