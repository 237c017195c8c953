"""The evaluation report: per-class IoU, mIoU and subset mIoUs, as JSON and as a terminal table."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table
from torch import Tensor

from pixl.errors import DataError, one_line
from pixl.evaluation.metrics import iou_from_confusion, miou_from_confusion, subset_mious


@dataclass(frozen=True)
class EvalReport:
    """Scores of one split. IoU values are fractions in [0, 1]; NaN = class absent (empty union)."""

    class_names: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    """rows = ground truth, columns = prediction, summed over the split and over ranks."""
    miou: float
    per_class_iou: dict[str, float]
    subsets: dict[str, float] = field(default_factory=dict)
    """e.g. {"mIoU16": ..., "mIoU13": ...} for SYNTHIA-trained models."""
    num_images: int = 0
    checkpoint: str = ""
    """The weights scored (a checkpoint or export path; a run folder and step for a running
    evaluation), so a report always says what it is the report of."""

    @classmethod
    def from_confusion(
        cls,
        conf: Tensor,
        class_names: Sequence[str],
        *,
        subsets: Mapping[str, Sequence[int]] | None = None,
        num_images: int = 0,
    ) -> EvalReport:
        if conf.shape != (len(class_names), len(class_names)):
            raise ValueError(
                f"confusion matrix {tuple(conf.shape)} does not fit {len(class_names)} class names"
            )
        conf = conf.detach().cpu().long()
        iou = iou_from_confusion(conf).tolist()
        return cls(
            class_names=tuple(class_names),
            confusion=tuple(tuple(int(v) for v in row) for row in conf.tolist()),
            miou=miou_from_confusion(conf),
            per_class_iou=dict(zip(class_names, iou, strict=True)),
            subsets=subset_mious(conf, subsets or {}),
            num_images=num_images,
        )

    @property
    def pixel_accuracy(self) -> float:
        total = sum(sum(row) for row in self.confusion)
        correct = sum(row[i] for i, row in enumerate(self.confusion))
        return correct / total if total else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN (absent class) becomes ``null``."""
        return {
            "checkpoint": self.checkpoint,
            "miou": _json_float(self.miou),
            "subsets": {k: _json_float(v) for k, v in self.subsets.items()},
            "pixel_accuracy": _json_float(self.pixel_accuracy),
            "num_images": self.num_images,
            "per_class_iou": {k: _json_float(v) for k, v in self.per_class_iou.items()},
            "class_names": list(self.class_names),
            "confusion": [list(row) for row in self.confusion],
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(text + "\n")
            os.replace(tmp, target)  # never a half-written report
        return text

    @classmethod
    def from_json(cls, path: str | Path) -> EvalReport:
        try:
            data = json.loads(Path(path).read_text())
            per_class = {k: _from_json_float(v) for k, v in data["per_class_iou"].items()}
            return cls(
                class_names=tuple(data["class_names"]),
                confusion=tuple(tuple(row) for row in data["confusion"]),
                miou=_from_json_float(data["miou"]),
                per_class_iou=per_class,
                subsets={k: _from_json_float(v) for k, v in data["subsets"].items()},
                num_images=int(data["num_images"]),
                checkpoint=str(data.get("checkpoint", "")),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}: not a pixl evaluation report ({one_line(error)})") from error


def report_path(path: Path, checkpoint: str, *, chosen: bool) -> Path:
    """Where the report of ``checkpoint`` may be written without replacing another's.

    ``path`` may be replaced only by a report of the same checkpoint (scored again). A ``chosen``
    path (``--output``) holding anything else is refused with one line; a default one gives way
    to the first free ``<stem>-2.json``, ``<stem>-3.json``, ...
    """
    candidates = (
        [path] if chosen else [path, *(path.with_stem(f"{path.stem}-{n}") for n in range(2, 1000))]
    )
    for candidate in candidates:
        held = _report_checkpoint(candidate)
        if held is None or held == checkpoint:
            return candidate
    holder = _report_checkpoint(path)
    what = f"the report of another checkpoint ({holder})" if holder else "a file pixl did not write"
    raise DataError(f"{path}: holds {what}; choose another --output")


def _report_checkpoint(path: Path) -> str | None:
    """``None`` when ``path`` is free, else the checkpoint its report names ('' if not a report)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return str(data["checkpoint"]) if isinstance(data, dict) and "confusion" in data else ""
    except (OSError, ValueError, KeyError):
        return ""


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 8)


def _from_json_float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.2f}"


def render_table(report: EvalReport, class_names: Sequence[str] | None = None) -> Table:
    """A rich table: one row per class (IoU in %, '-' when absent), then mIoU and the subsets."""
    names = list(class_names) if class_names is not None else list(report.class_names)
    table = Table(title=f"Evaluation ({report.num_images} images)", show_footer=False)
    table.add_column("class")
    table.add_column("IoU %", justify="right")
    for name in names:
        table.add_row(name, _percent(report.per_class_iou.get(name, math.nan)))
    table.add_section()
    table.add_row("mIoU", _percent(report.miou), style="bold")
    for name, value in report.subsets.items():
        table.add_row(name, _percent(value), style="bold")
    table.add_row("pixel accuracy", _percent(report.pixel_accuracy))
    return table
