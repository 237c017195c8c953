"""The paper-regime study's bookkeeping: the verdict rule, which row is "best", how its rows pair."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
# Plain imports: a file of this repository that fails to import must fail the test, not skip it.
import bench_paper_regime as study
from ablations import store as run_store
from ablations.runner import runs_to_train
from ablations.store import save_store


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(run_store, "STORE", tmp_path / "store.json")

    def fill(miou_by_label: dict[str, list[float]]) -> None:
        entries = {}
        for label, mious in miou_by_label.items():
            for seed, miou in zip(study.SEEDS, mious, strict=False):
                entries[study.run_of(study.ROWS[label], seed, None).key] = {"miou": miou}
        save_store(entries)

    return fill


def test_verdict_needs_every_seed_and_four_of_five():
    assert study.verdict([1, 2, 3, -1, 0.5], 5) == "**higher**"
    assert study.verdict([-1, -2, -3, 1, -0.5], 5) == "**lower**"
    assert study.verdict([1, 2, 3, -1, -0.5], 5) == "no consistent difference"
    assert study.verdict([1, 2, 3, 4], 5) == "-"  # a seed missing: no verdict on partial evidence
    assert study.verdict([1, 2, 3], 3) == "**higher**"  # with 3 seeds, all of them
    assert study.verdict([1, 2, -3], 3) == "no consistent difference"
    assert study.verdict([1, 2], 2) == "-"


def test_the_best_row_waits_for_every_candidate_on_every_seed(store):
    means = {label: [0.5] * 5 for label in study.BEST_CANDIDATES}
    means["PiXL + projection head"] = [0.6, 0.6, 0.6, 0.6]  # best so far, but seed 4 missing
    store(means)
    assert study.best_row(None) is None
    assert study.derived_rows(None) == {}


def test_the_best_row_is_the_highest_mean_over_all_five_seeds(store):
    means = {label: [0.5] * 5 for label in study.BEST_CANDIDATES}
    # Highest on the first three seeds, lower over all five: the five decide.
    means["PiXL + cell purity 0.75"] = [0.9, 0.9, 0.9, 0.0, 0.0]
    means["PiXL + projection head"] = [0.55] * 5
    # The every-pixel ablation is not a candidate, however high.
    means["every pixel an anchor (no joint/drift split)"] = [0.99] * 5
    store(means)
    assert study.best_row(None).label == "PiXL + projection head"


def test_best_rows_differ_from_their_baseline_only_in_pixl(store):
    means = {label: [0.5] * 5 for label in study.BEST_CANDIDATES}
    means[study.ALL_SWITCHES] = [0.7] * 5
    store(means)
    derived = study.derived_rows(None)
    switches = study.ROWS[study.ALL_SWITCHES].overrides
    assert any(o.startswith("self_training.") for o in switches)
    temperature = derived["temperature"][0]
    assert temperature.reference == study.ALL_SWITCHES
    assert temperature.overrides == (*switches, "pixl.temperature=0.1")
    baseline, pixl = derived["ssl"]
    assert pixl.reference == baseline.label and baseline.overrides == ()
    assert pixl.overrides == switches
    # The supervised run has no teacher: its self-training switch is dropped, the others kept.
    _, supervised = derived["supervised"]
    assert supervised.overrides == tuple(o for o in switches if not o.startswith("self_training."))
    assert [r.overrides[-1] for r in derived["eta"]] == [
        f"pixl.eta_start={eta}" for eta in study.ETAS
    ]
    assert all(study.ROWS[r.label] == r for rows in derived.values() for r in rows)  # registered
    assert study.part_seeds("digits", study.SEEDS) == (0, 1, 2)


def test_max_runs_takes_the_first_runs_not_stored_in_order():
    rows = [study.ROWS[label] for label in study.PARTS["hrda"]]
    runs = [study.run_of(row, seed, None) for row in rows for seed in (0, 1)]
    stored = {runs[0].key, runs[2].key}
    assert runs_to_train(runs, stored, set(), False, 2) == [runs[1], runs[3]]
    assert runs_to_train(runs, stored, set(), False, None) == [runs[1], *runs[3:]]
    assert runs_to_train(runs, stored, set(), False, 0) == []
    assert runs_to_train(runs, {r.key for r in runs}, set(), False, 4) == []
    # Runs trained earlier in the sitting count against the limit and are never trained twice.
    assert runs_to_train(runs, stored, {runs[1].key}, False, 2) == [runs[3]]
    # With --rerun stored runs train again, still capped.
    assert runs_to_train(runs, stored, set(), True, 2) == runs[:2]


def test_a_store_outside_the_repository_is_named_by_its_absolute_path(tmp_path) -> None:
    # A --store / --output-dir outside the checkout once crashed the results header after the runs.
    assert study.display_path(tmp_path / "store.json") == str((tmp_path / "store.json").resolve())
    assert study.display_path(study.STORE) == "benchmarks/paper_regime_runs.json"


@pytest.mark.parametrize(
    ("part", "eq17_name"), [("supervised", "SUPERVISED_EQ17"), ("ssl", "SSL_EQ17")]
)
def test_eq17_rows_share_their_baseline_runs_with_the_best_switch_pair(store, part, eq17_name):
    means = {label: [0.5] * 5 for label in study.BEST_CANDIDATES}
    means["PiXL + projection head"] = [0.7] * 5
    store(means)
    baseline, best = study.derived_rows(None)[part]
    eq17 = study.ROWS[getattr(study, eq17_name)]
    assert eq17.reference == baseline.label
    # Same config and overrides: the stored baseline runs are reused, never trained twice.
    assert (
        study.run_of(study.ROWS[eq17.reference], 0, None).key == study.run_of(baseline, 0, None).key
    )
    # The two PiXL rows differ only in the best row's switch (the head).
    assert eq17.config == best.config and best.overrides == ("pixl.projection=head",)
    assert eq17.overrides == ()
