"""Which runs each part of the ablations trains: shipped configs, overrides, seeds, sweep points."""

from __future__ import annotations

import argparse

from ablations.store import Run

SEEDS = (0, 1, 2)
ETAS = (0.1, 0.2, 0.4, 0.6, 0.8)
TEMPERATURES = (0.07, 0.1, 0.5, 1.0)
QUICK_STEPS = 150
STAGE2_STEPS = 250  # the warm-start study's stage 2 (ablations/warm.py)
COST_REPEATS, QUICK_COST_REPEATS = 10, 4  # timed UDA steps per variant in the cost part
SWEPT = "digits/uda_pixl"  # the sweeps vary PiXL's settings on this config
# The rows the others are paired with, seed by seed.
UDA_BASELINE = "baseline: self-training + ClassMix"
SSL_BASELINE = "baseline: teacher + ClassMix"
SUPERVISED_BASELINE = "supervised (target train, all labels)"
# --hrda: HRDA around the DigitScenes DeepLabV3+ (context at 0.5, detail crop 0.5 of 64 px frames).
HRDA_OVERRIDES = (
    "model.name=hrda",
    "model.options={base: deeplabv3plus, base_options: {encoder: resnet18, encoder_weights: null,"
    " embed_dim: 64}, scale: 0.5, detail_crop: 0.5, attention_dim: 64}",
)  # --quick: one seed, short runs, the sweeps' end points only
QUICK_ETAS = (0.2, 0.8)
QUICK_TEMPERATURES = (0.1, 1.0)


def seeds_of(args: argparse.Namespace) -> tuple[int, ...]:
    return tuple(args.seeds)


def uda_runs(args: argparse.Namespace) -> list[Run]:
    """Table 5 on DigitScenes. The DigitScenes model is single-resolution (DeepLabV3+), where
    adaptive selection has nothing to choose between, so drift alignment alone and drift alignment
    + adaptive selection are the same run; ``--hrda`` trains HRDA instead and separates them."""
    hrda = HRDA_OVERRIDES if args.hrda else ()
    settings = [
        ("source-only (no adaptation)", "digits/source_only_baseline", ()),
        (UDA_BASELINE, "digits/uda_baseline", ()),
    ]
    if args.hrda:
        settings.append(
            (
                "+ drift alignment (PiXL, no adaptive selection)",
                "digits/uda_pixl",
                ("pixl.adaptive_selection=false",),
            )
        )
    settings.append(("+ drift alignment + adaptive selection (PiXL)", "digits/uda_pixl", ()))
    return [
        Run(label, config, (*hrda, *overrides), seed, args.steps)
        for label, config, overrides in settings
        for seed in seeds_of(args)
    ]


def ssl_runs(args: argparse.Namespace) -> list[Run]:
    settings = [
        ("labelled 1/30 only", "digits/ssl_1_30_labelled_only"),
        (SSL_BASELINE, "digits/ssl_1_30_baseline"),
        ("+ PiXL", "digits/ssl_1_30_pixl"),
    ]
    return [Run(label, c, (), s, args.steps) for label, c in settings for s in seeds_of(args)]


def supervised_runs(args: argparse.Namespace) -> list[Run]:
    settings = [
        (SUPERVISED_BASELINE, "digits/supervised_baseline"),
        ("supervised + PiXL", "digits/supervised_pixl"),
    ]
    return [Run(label, c, (), s, args.steps) for label, c in settings for s in seeds_of(args)]


def sweep_runs(args: argparse.Namespace) -> tuple[Run, list[Run], list[Run]]:
    """The no-PiXL baseline of the sweeps' seed, the eta points, the temperature points."""
    from pixl.config import load_config

    seed = seeds_of(args)[0]
    etas, temperatures = (QUICK_ETAS, QUICK_TEMPERATURES) if args.quick else (ETAS, TEMPERATURES)
    shipped = load_config(SWEPT).pixl

    def point(label: str, key: str, value: float) -> Run:
        # The shipped value is the UDA part's "+ PiXL" run itself: no override, same stored run.
        if getattr(shipped, key) == value:
            return Run(f"{label} {value} (shipped)", SWEPT, (), seed, args.steps)
        return Run(f"{label} {value}", SWEPT, (f"pixl.{key}={value}",), seed, args.steps)

    baseline = Run(f"no PiXL ({UDA_BASELINE})", "digits/uda_baseline", (), seed, args.steps)
    eta = [point("eta_start", "eta_start", e) for e in etas]
    temperature = [point("temperature", "temperature", t) for t in temperatures]
    return baseline, eta, temperature
