"""The ablation script's bookkeeping: which runs it trains, and how it pairs them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
# Plain imports: a file of this repository that fails to import must fail the test, not skip it.
import bench_ablations
from ablations import runs as bench
from ablations import warm
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
    ablations = {"uda", "ssl", "supervised", "sweeps", "features", "cost"}
    assert set(bench_ablations.QUICK_PARTS) == ablations  # --quick stays the short ablations
    warm_parts = {
        "warm-uda",
        "warm-switches",
        "warm-long",
        "warm-ssl-supervised",
        "warm-hrda",
        "scratch-best",
    }
    assert set(bench_ablations.PARTS) == ablations | warm_parts | {"where"}


def warm_args(**kwargs) -> argparse.Namespace:
    return args(output_dir="runs/ablations", stage2_steps=250, **kwargs)


def test_stage2_runs_start_from_their_own_seeds_stage1_and_differ_only_in_pixl():
    runs = warm.warm_uda_runs(warm_args())
    assert len(runs) == 3 * 5 and [r.seed for r in runs[:5]] == [0] * 5  # seed-major
    for run in runs:
        first = warm.stage1("digits/source_only_baseline", run.seed)
        assert first.key.startswith("stage1|") and first.key != bench.uda_runs(args())[0].key
        assert f"model.init_from=runs/ablations/{first.name}/final/model.safetensors" in (
            run.overrides
        )
        assert {"pixl.start_step=0", "self_training.start_step=0"} <= set(run.overrides)
        assert run.steps == 250 and run.stage == "stage2"
    base = next(r for r in runs if r.label == warm.WARM_UDA_BASELINE and r.seed == 0)
    pixl = [r for r in runs if r.seed == 0 and r.label != warm.WARM_UDA_BASELINE]
    for run in pixl:  # the baseline's overrides plus PiXL's strength, nothing else
        assert run.overrides[: len(base.overrides)] == base.overrides
        assert all(o.startswith("pixl.") for o in run.overrides[len(base.overrides) :])


def test_best_strength_is_the_highest_mean_paired_gain():
    runs = warm.warm_uda_runs(warm_args(seeds=[0, 1]))
    gains = {
        warm.strength_label(t, w): g
        for (t, w), g in zip(warm.STRENGTHS, (-2, 1, 3, 0), strict=True)
    }
    store = {}
    for run in runs:
        base = 0.5 + 0.1 * run.seed
        store[run.key] = {"miou": base + gains.get(run.label, 0) / 100 * (1 + run.seed)}
    assert warm.best_strength(runs, store) == warm.STRENGTHS[2]
    switches = warm.switch_runs(warm_args(seeds=[0]), warm.STRENGTHS[2])
    assert [o for r in switches for o in r.overrides if o.startswith("pixl.group")] == [
        "pixl.group=joint"
    ]


def test_the_long_stage2_pairs_the_baseline_and_the_best_strength_at_750_steps():
    from ablations.warm_parts import difference_curve

    runs = warm.long_runs(warm_args(seeds=[0, 1]), warm.STRENGTHS[2])
    assert [r.steps for r in runs] == [warm.LONG_STAGE2_STEPS] * 4
    short = {r.key for r in warm.warm_uda_runs(warm_args(seeds=[0, 1]))}
    assert not short & {r.key for r in runs}  # its own runs, never the 250-step ones
    base, pixl = runs[0], runs[1]
    assert base.label == warm.WARM_UDA_LONG_BASELINE and base.seed == pixl.seed == 0
    assert pixl.overrides == (*base.overrides, *warm.strength_overrides(*warm.STRENGTHS[2]))
    # Seed 0: PiXL 2 points below then 1 above; seed 1: 4 below then 3 above.
    values = {base.key: [0.20, 0.30], pixl.key: [0.18, 0.31]}
    values |= {runs[2].key: [0.10, 0.20], runs[3].key: [0.06, 0.23]}
    store = {k: {"curve": {"val_step": [50, 100], "val_miou": v}} for k, v in values.items()}
    rows = difference_curve(runs, store, warm.WARM_UDA_LONG_BASELINE).splitlines()
    assert rows[2].startswith("| 50 | 15.00 | -3.00 ± 1.41 (0/2 higher)")
    assert rows[3].startswith("| 100 | 25.00 | +2.00 ± 1.41 (2/2 higher)")


def test_scratch_runs_compare_the_shipped_and_the_best_strength_with_one_baseline_per_kind():
    runs = warm.scratch_runs(warm_args(seeds=[0]), warm.STRENGTHS[2])
    assert {r.stage for r in runs} == {"scratch"} and {r.steps for r in runs} == {None}
    for kind, config in (("UDA", "uda"), ("SSL", "ssl_1_30"), ("supervised", "supervised")):
        rows = [r for r in runs if r.label.startswith(f"scratch {kind} ")]
        assert rows[0].label == f"scratch {kind} baseline"
        assert rows[0].config == f"digits/{config}_baseline" and rows[0].overrides == ()
        shipped = next(r for r in rows if "shipped" in r.label)
        assert shipped.config == f"digits/{config}_pixl" and shipped.overrides == ()
        best = [r for r in rows if warm.strength_text(*warm.STRENGTHS[2]) in r.label]
        assert best and all(
            r.overrides[:2] == warm.strength_overrides(*warm.STRENGTHS[2]) for r in best
        )


def test_a_finished_but_unstored_run_is_adopted_not_retrained(tmp_path: Path):
    import json

    from ablations.runner import finished_seconds

    run_dir = tmp_path / "run"
    assert finished_seconds(run_dir) is None
    (run_dir / "final").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("name: x\n")
    rows = [{"kind": "train", "step": 1, "time": 1e9}, {"kind": "val", "step": 1, "time": 2e9}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert finished_seconds(run_dir) is None  # no final weights: it did not finish
    (run_dir / "final" / "model.safetensors").write_bytes(b"")
    seconds = finished_seconds(run_dir)
    assert seconds is not None and seconds == 2e9 - (run_dir / "config.yaml").stat().st_mtime
