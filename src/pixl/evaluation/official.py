"""Scoring exported predictions with ``cityscapesscripts``' own evaluator, in-process.

Used to check that ``pixl eval`` and the official benchmark agree. The evaluator keeps its settings
on a module-level ``args`` object and exits the process on errors; here it gets a private copy of
the settings (no instance-level score, no JSON written to the current folder, quiet) and its exits
become ``PixlError``.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official
from cityscapesscripts.helpers.labels import name2label

from pixl.errors import PixlError


@dataclass(frozen=True)
class OfficialScores:
    """The official evaluator's class IoUs (19 evaluated classes; NaN = empty union) and mean."""

    miou: float
    per_class_iou: dict[str, float]


def official_cityscapes_scores(
    prediction_dir: str | Path, ground_truth_files: Sequence[str | Path]
) -> OfficialScores:
    """Evaluate label-id predictions under ``prediction_dir`` against ``*_gtFine_labelIds.png`` files."""
    if not ground_truth_files:
        raise PixlError(
            "no *_gtFine_labelIds.png ground-truth files given to the official evaluator"
        )
    args = copy.copy(official.args)
    args.predictionPath = str(prediction_dir)
    args.predictionWalk = None
    args.evalInstLevelScore = False
    args.evalPixelAccuracy = False
    args.JSONOutput = False
    args.quiet = True
    args.colorized = False
    args.bold = args.nocol = ""
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            gt_files = [str(path) for path in ground_truth_files]
            predictions = [official.getPrediction(args, path) for path in gt_files]
            result = official.evaluateImgLists(predictions, gt_files, args)
    except SystemExit as error:
        message = output.getvalue().strip().splitlines()
        reason = message[-1] if message else f"exit status {error.code}"
        raise PixlError(f"Cityscapes evaluator on {prediction_dir}: {reason}") from None
    scores = {name: float(v) for name, v in result["classScores"].items() if not _ignored(name)}
    return OfficialScores(miou=float(result["averageScoreClasses"]), per_class_iou=scores)


def _ignored(name: str) -> bool:
    # Classes with ignoreInEval get NaN from the evaluator; they are not part of the 19.
    return name2label[name].ignoreInEval
