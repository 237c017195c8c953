"""Loss terms as parts: a task sums and reports whatever terms its list holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixl.config.schema import PiXLConfig
from pixl.core import IGNORE_INDEX, labels_to_feature_resolution, pixl_loss_with_stats
from pixl.engine.build import build_model, build_task, term_context
from pixl.engine.teacher import EMATeacher
from pixl.engine.terms import MIXED, Pass, PiXLTerm, TermOutput, build_terms
from pixl.models import SegmentationOutput, TrainOutput

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


def _labelled_pass(seed: int) -> tuple[TrainOutput, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(2, 8, 4, 4, generator=g, dtype=torch.float64)
    logits = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64)
    out = SegmentationOutput(logits=logits, features=features)
    labels = torch.randint(0, 3, (2, 16, 16), generator=g)
    labels[:, :6] = torch.randint(0, 2, (2, 6, 16), generator=g)  # some mixed, impure cells
    labels[torch.rand(2, 16, 16, generator=g) < 0.2] = IGNORE_INDEX
    return TrainOutput(logits=logits, low=out, low_images=torch.zeros(2, 3, 16, 16)), labels


@pytest.mark.parametrize(
    ("purity", "anchors"), [(0.75, "drift"), (0.5, "all"), (0.0, "all"), (0.0, "random")]
)
def test_pixl_term_brings_labels_down_with_cell_purity_and_anchors(
    purity: float, anchors: str
) -> None:
    forward, labels = _labelled_pass(0)
    config = PiXLConfig(cell_purity=purity, anchors=anchors, temperature=0.5)
    torch.manual_seed(11)  # "random" draws its anchors from the global generator
    out = PiXLTerm(config, num_classes=3, max_steps=10)({"labelled": Pass(forward, labels)}, 0)
    cells = labels_to_feature_resolution(labels, (4, 4), 3, min_purity=purity)
    majority = labels_to_feature_resolution(labels, (4, 4), 3)
    if purity > 0:
        assert (cells == IGNORE_INDEX).sum() > (majority == IGNORE_INDEX).sum()
    torch.manual_seed(11)
    expected = pixl_loss_with_stats(
        (forward.low.features, forward.low.logits, cells),
        None,
        num_classes=3,
        eta=0.2,
        temperature=0.5,
        anchors=anchors,  # type: ignore[arg-type]
    )
    torch.testing.assert_close(out.terms["pixl_labelled"], config.weight * expected.loss)
    assert float(out.stats["pixl_labelled/anchors"]) == float(expected.stats.anchors)
    if anchors == "all":
        assert float(expected.stats.anchors) == int((cells != IGNORE_INDEX).sum())
