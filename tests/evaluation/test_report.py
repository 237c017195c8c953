"""EvalReport: JSON round trip (absent classes as null), subsets, the terminal table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console

from pixl.errors import DataError
from pixl.evaluation import EvalReport, render_table

NAMES = ("road", "car", "bus")
CONF = torch.tensor([[5, 1, 0], [1, 3, 0], [0, 0, 0]])


def test_report_numbers() -> None:
    report = EvalReport.from_confusion(CONF, NAMES, subsets={"first2": (0, 1)}, num_images=2)
    assert report.per_class_iou["road"] == pytest.approx(5 / 7)
    assert report.per_class_iou["car"] == pytest.approx(3 / 5)
    assert math.isnan(report.per_class_iou["bus"])
    assert report.miou == pytest.approx((5 / 7 + 3 / 5) / 2)
    assert report.subsets["first2"] == pytest.approx(report.miou)
    assert report.pixel_accuracy == pytest.approx(8 / 10)


def test_json_round_trip(tmp_path: Path) -> None:
    report = EvalReport.from_confusion(CONF, NAMES, num_images=2)
    path = tmp_path / "sub" / "report.json"
    text = report.to_json(path)
    data = json.loads(path.read_text())
    assert json.loads(text) == data
    assert data["per_class_iou"]["bus"] is None  # NaN is not JSON
    assert data["confusion"] == CONF.tolist()
    again = EvalReport.from_json(path)
    assert again.miou == pytest.approx(report.miou)
    assert math.isnan(again.per_class_iou["bus"])
    assert again.confusion == report.confusion


def test_from_json_of_other_file_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(DataError, match=r"x\.json"):
        EvalReport.from_json(path)


def test_confusion_must_fit_names() -> None:
    with pytest.raises(ValueError, match="3 class names"):
        EvalReport.from_confusion(torch.zeros(2, 2, dtype=torch.long), NAMES)


def test_render_table_lists_classes_and_scores() -> None:
    report = EvalReport.from_confusion(CONF, NAMES, subsets={"mIoU16": (0, 1)}, num_images=2)
    console = Console(record=True, width=80)
    console.print(render_table(report))
    text = console.export_text()
    for expected in ("road", "71.43", "car", "60.00", "bus", "mIoU16", "65.71"):
        assert expected in text
    bus_line = next(line for line in text.splitlines() if "bus" in line)
    assert "-" in bus_line
