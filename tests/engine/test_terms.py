"""Loss terms as parts: a task sums and reports whatever terms its list holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.engine.build import build_model, build_task, term_context
from pixl.engine.teacher import EMATeacher
from pixl.engine.terms import MIXED, Pass, TermOutput, build_terms

from .test_staged_backward import batch
from .tiny import tiny_config


class MeanLogit:
    """A new term in a few lines: the mean mixed-pass logit, from step 3."""

    with_pass = False

    def reads(self, step: int, available: tuple[str, ...]) -> tuple[str, ...]:
        return (MIXED,) if step >= 3 and MIXED in available else ()

    def label(self, passes: tuple[str, ...]) -> str:
        return "mean logit"

    def __call__(self, passes: dict[str, Pass], step: int) -> TermOutput:
        logits = passes[MIXED].forward.logits
        return TermOutput({"mean_logit": logits.mean()}, {"mean_logit/max": logits.max().detach()})


@pytest.mark.parametrize("step", [0, 5])
def test_an_added_term_is_summed_and_reported(tiny_digits: Path, tmp_path: Path, step: int) -> None:
    config = tiny_config(tiny_digits, tmp_path, task="uda", self_training={"pseudo_threshold": 0.0})
    torch.manual_seed(0)
    model = build_model(config).train()
    terms = [*build_terms(term_context(config, model)), MeanLogit()]
    task = build_task(
        config,
        model=model,
        raw_model=model,
        generator=torch.Generator().manual_seed(1),
        teacher=EMATeacher(model),
        terms=terms,
    )
    out = task.training_step(batch(), step=step)
    names = set(out.terms) - {"loss"}
    assert {"ce_labelled", "ce_mixed", "pixl_labelled", "pixl_mixed"} <= names
    assert ("mean_logit" in names) == (step >= 3)
    assert ("mean_logit/max" in out.stats) == (step >= 3)
    torch.testing.assert_close(out.terms["loss"], sum(out.terms[n] for n in names))
