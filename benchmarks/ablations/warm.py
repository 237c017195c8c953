"""The paper's regime on DigitScenes: warm-started adaptation (issue "PiXL's gain").

The paper starts PiXL from an ImageNet-trained encoder, so class structure exists in the features
from the first step. The DigitScenes analogue is two stages of the same seed:

- stage 1: the source-only model (UDA, supervised) or the labelled-only model (SSL), trained as the
  shipped configs train it (750 steps from scratch); stored and reused like every other run;
- stage 2: adaptation from it (``model.init_from``: student and teacher start from stage 1, a fresh
  optimizer and schedule), with self-training and PiXL from stage-2 step 0 and eta from 0.2 at
  step 0 (the paper's schedule), ``STAGE2_STEPS`` steps, target-val evaluated every
  ``STAGE2_EVAL_EVERY`` steps so its curve shows whether the baseline has converged.

Every stage-2 PiXL setting is paired seed by seed with the stage-2 baseline that differs only in
PiXL (same stage-1 weights, same seed: identical data order and draws except PiXL's own effect).
"""

from __future__ import annotations

import argparse

from ablations.runs import HRDA_OVERRIDES, seeds_of
from ablations.store import Run
from ablations.tables import paired_deltas

STAGE2_EVAL_EVERY = 50
# --part warm-long: the baseline and the best strength with a stage 2 as long as the from-scratch
# runs, because the 250-step baselines were still rising at their last evaluation.
LONG_STAGE2_STEPS = 750
# (temperature, weight) of PiXL measured on warm-started UDA: the paper's strength (0.1, 1), CLUDA's
# lineage (no temperature = 1, weight 0.5), and the two in between.
STRENGTHS = ((0.1, 1.0), (1.0, 1.0), (1.0, 0.5), (0.1, 0.1))
WARM_UDA_BASELINE = "warm UDA baseline: self-training + ClassMix"
WARM_SSL_BASELINE = "warm SSL baseline: teacher + ClassMix"
WARM_SUPERVISED_BASELINE = "warm supervised baseline"
WARM_HRDA_BASELINE = "warm HRDA UDA baseline"
WARM_UDA_LONG_BASELINE = f"{WARM_UDA_BASELINE}, {LONG_STAGE2_STEPS}-step stage 2"
SWITCHES = (
    ("joint group (labelled + mixed)", ("pixl.group=joint",)),
    ("mixed PiXL weighted by pseudo-labels", ("pixl.mixed_weighting=pseudo",)),
)


def strength_text(temperature: float, weight: float) -> str:
    return f"T {temperature:g}, weight {weight:g}"


def strength_label(temperature: float, weight: float) -> str:
    return f"warm UDA + PiXL {strength_text(temperature, weight)}"


def strength_overrides(temperature: float, weight: float) -> tuple[str, ...]:
    return (f"pixl.temperature={temperature:g}", f"pixl.weight={weight:g}")


def stage1(config: str, seed: int, hrda: bool = False) -> Run:
    """The shipped from-scratch run that stage 2 starts from."""
    label = f"stage 1: {config}" + (" (HRDA)" if hrda else "")  # the key holds the overrides
    return Run(label, config, HRDA_OVERRIDES if hrda else (), seed, None, "stage1")


def warm(
    label: str,
    config: str,
    first: Run,
    args: argparse.Namespace,
    extra: tuple[str, ...] = (),
    steps: int | None = None,
) -> Run:
    """A stage-2 run of ``config`` from the stage-1 run ``first`` (same seed), ``steps`` long
    (default: ``--stage2-steps``)."""
    overrides = (
        *first.overrides,  # the same architecture (HRDA or not)
        f"model.init_from={args.output_dir}/{first.name}/final/model.safetensors",
        "pixl.start_step=0",
        "self_training.start_step=0",
        f"trainer.eval_every={STAGE2_EVAL_EVERY}",
        *extra,
    )
    return Run(label, config, overrides, first.seed, steps or args.stage2_steps, "stage2")


def stage1_runs(args: argparse.Namespace, config: str, hrda: bool = False) -> list[Run]:
    return [stage1(config, seed, hrda) for seed in seeds_of(args)]


def warm_uda_runs(args: argparse.Namespace) -> list[Run]:
    """The UDA baseline and PiXL at each (temperature, weight), seed-major so a sitting that stops
    early leaves whole seeds."""
    runs = []
    for seed in seeds_of(args):
        first = stage1("digits/source_only_baseline", seed)
        runs.append(warm(WARM_UDA_BASELINE, "digits/uda_baseline", first, args))
        runs += [
            warm(strength_label(t, w), "digits/uda_pixl", first, args, strength_overrides(t, w))
            for t, w in STRENGTHS
        ]
    return runs


def best_strength(runs: list[Run], store: dict[str, dict]) -> tuple[float, float]:
    """The (temperature, weight) with the highest mean paired difference with the baseline."""

    def gain(strength: tuple[float, float]) -> float:
        label = strength_label(*strength)
        deltas = paired_deltas(runs, store, label, WARM_UDA_BASELINE)
        if not deltas:
            raise SystemExit(f"{label}: no stored run paired with the baseline (run warm-uda)")
        return sum(deltas) / len(deltas)

    return max(STRENGTHS, key=gain)


def long_runs(args: argparse.Namespace, best: tuple[float, float]) -> list[Run]:
    """The warm UDA baseline and the best strength with a ``LONG_STAGE2_STEPS`` stage 2 (its
    learning-rate schedule spans the longer run): does the difference hold once the baseline has
    stopped rising?"""
    runs = []
    for seed in seeds_of(args):
        first = stage1("digits/source_only_baseline", seed)
        runs += [
            warm(WARM_UDA_LONG_BASELINE, "digits/uda_baseline", first, args, (), LONG_STAGE2_STEPS),
            warm(
                f"{strength_label(*best)}, {LONG_STAGE2_STEPS}-step stage 2",
                "digits/uda_pixl",
                first,
                args,
                strength_overrides(*best),
                LONG_STAGE2_STEPS,
            ),
        ]
    return runs


def switch_runs(args: argparse.Namespace, best: tuple[float, float]) -> list[Run]:
    """The best strength with each open choice switched from its default."""
    runs = []
    for seed in seeds_of(args):
        first = stage1("digits/source_only_baseline", seed)
        for name, extra in SWITCHES:
            runs.append(
                warm(
                    f"{strength_label(*best)} + {name}",
                    "digits/uda_pixl",
                    first,
                    args,
                    (*strength_overrides(*best), *extra),
                )
            )
    return runs


def ssl_supervised_runs(args: argparse.Namespace, best: tuple[float, float]) -> list[Run]:
    """SSL 1/30 from the labelled-only model; supervised (all target labels) from the
    source-only model (the closest DigitScenes analogue of an ImageNet start)."""
    strength = strength_text(*best)
    runs = []
    for seed in seeds_of(args):
        labelled = stage1("digits/ssl_1_30_labelled_only", seed)
        source = stage1("digits/source_only_baseline", seed)
        runs += [
            warm(WARM_SSL_BASELINE, "digits/ssl_1_30_baseline", labelled, args),
            warm(
                f"warm SSL + PiXL {strength}",
                "digits/ssl_1_30_pixl",
                labelled,
                args,
                strength_overrides(*best),
            ),
            warm(WARM_SUPERVISED_BASELINE, "digits/supervised_baseline", source, args),
            warm(
                f"warm supervised + PiXL {strength}",
                "digits/supervised_pixl",
                source,
                args,
                strength_overrides(*best),
            ),
        ]
    return runs


def hrda_runs(args: argparse.Namespace, best: tuple[float, float]) -> list[Run]:
    """The paper's Table 5 rows on the HRDA-wrapped DigitScenes model, warm-started from an HRDA
    source-only stage 1: baseline, drift alignment only, drift alignment + adaptive selection."""
    runs = []
    for seed in seeds_of(args):
        first = stage1("digits/source_only_baseline", seed, hrda=True)
        strength = strength_overrides(*best)
        runs += [
            warm(WARM_HRDA_BASELINE, "digits/uda_baseline", first, args),
            warm(
                "warm HRDA + drift alignment",
                "digits/uda_pixl",
                first,
                args,
                (*strength, "pixl.adaptive_selection=false"),
            ),
            warm(
                "warm HRDA + drift alignment + adaptive selection",
                "digits/uda_pixl",
                first,
                args,
                strength,
            ),
        ]
    return runs


def scratch_runs(args: argparse.Namespace, best: tuple[float, float]) -> list[Run]:
    """The shipped from-scratch configs as shipped and with the best strength (PiXL from step
    350), the latter with the eta schedule from step 0 (shipped) and from PiXL's own start step
    (the switch that only matters when PiXL starts late), each paired with the from-scratch
    baseline of the same seed."""
    from pixl.config import load_config

    text, strength = strength_text(*best), strength_overrides(*best)

    def shipped(kind: str, config: str) -> tuple[str, str, tuple[str, ...]]:
        """The config as shipped (its own strength), the row the best strength must beat."""
        pixl = load_config(config).pixl
        text = strength_text(pixl.temperature, pixl.weight)
        return f"scratch {kind} + PiXL shipped ({text})", config, ()

    settings = [
        ("scratch UDA baseline", "digits/uda_baseline", ()),
        shipped("UDA", "digits/uda_pixl"),
        (f"scratch UDA + PiXL {text}", "digits/uda_pixl", strength),
        (
            f"scratch UDA + PiXL {text}, eta from start step",
            "digits/uda_pixl",
            (*strength, "pixl.eta_from=start_step"),
        ),
        ("scratch SSL baseline", "digits/ssl_1_30_baseline", ()),
        shipped("SSL", "digits/ssl_1_30_pixl"),
        (f"scratch SSL + PiXL {text}", "digits/ssl_1_30_pixl", strength),
        ("scratch supervised baseline", "digits/supervised_baseline", ()),
        shipped("supervised", "digits/supervised_pixl"),
        (f"scratch supervised + PiXL {text}", "digits/supervised_pixl", strength),
    ]
    # Tagged: re-trained beside the PiXL runs, never paired with runs stored from other machines
    # (CPU kernels differ across machines, so the same seed does not train identically there).
    return [
        Run(label, config, overrides, seed, None, "scratch")
        for seed in seeds_of(args)
        for label, config, overrides in settings
    ]
