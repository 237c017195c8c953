"""The ablation script's bookkeeping: which runs it trains, and how it pairs them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
# Plain imports: a file of this repository that fails to import must fail the test, not skip it.
import bench_ablations
from ablations import runs as bench
from ablations.store import Run
from ablations.tables import paired


def args(**kwargs) -> argparse.Namespace:
    defaults = {"seeds": [0, 1, 2], "steps": None, "quick": False, "hrda": False}
    return argparse.Namespace(**{**defaults, **kwargs})


def test_the_sweeps_shipped_points_are_the_uda_parts_pixl_run():
    baseline, eta, temperature = bench.sweep_runs(args())
    uda = {r.key: r for r in bench.uda_runs(args())}
    shipped = [r for r in eta + temperature if "(shipped)" in r.label]
    assert len(shipped) == 2 and all(r.overrides == () for r in shipped)
    assert all(r.key in uda for r in shipped)  # trained once, for both parts
    assert baseline.key in uda and uda[baseline.key].label == bench.UDA_BASELINE
    others = [r for r in eta + temperature if r not in shipped]
    assert len({r.key for r in others}) == len(others) == 7  # 5 + 4 values, 2 of them shipped
    assert all(len(r.overrides) == 1 for r in others)


def test_paired_differences_match_seeds_not_positions():
    runs = [Run("base", "c", (), seed=s) for s in (0, 1, 2)] + [
        Run("new", "c", ("x=1",), seed=s) for s in (2, 1)
    ]  # seed 0 missing, order swapped
    miou = {("base", 0): 0.50, ("base", 1): 0.40, ("base", 2): 0.30}
    miou |= {("new", 1): 0.43, ("new", 2): 0.29}
    store = {r.key: {"miou": miou[(r.label, r.seed)]} for r in runs}
    assert paired(runs, store, "new", "base") == "+1.00 ± 2.83 (1/2 higher)"  # +3 and -1 points
    assert paired(runs, store, "base", "base") == "-"


def test_quick_sweeps_only_train_the_end_points():
    _, eta, temperature = bench.sweep_runs(args(quick=True, seeds=[0], steps=150))
    assert [r.label for r in eta] == ["eta_start 0.2 (shipped)", "eta_start 0.8"]
    assert [r.label for r in temperature] == ["temperature 0.1", "temperature 1.0 (shipped)"]
    assert {r.steps for r in eta + temperature} == {150}


def test_the_entry_point_offers_every_part():
    assert set(bench_ablations.PARTS) == {"uda", "ssl", "supervised", "sweeps", "features", "cost"}
