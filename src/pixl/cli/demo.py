"""``pixl demo``: UDA on an embedded benchmark, end to end on a CPU (prepare, train, evaluate,
report)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train and evaluate UDA + PiXL on an embedded benchmark on the CPU (DigitScenes by "
        "default; time in benchmarks/results/demo.md)",
        description="Prepare the benchmark if missing, train its UDA + PiXL config, evaluate "
        "on target val, print the per-class IoU table and write RUN/demo_report.md.",
    )
    parser.add_argument(
        "--benchmark",
        default="digits",
        choices=("digits", "texscapes"),
        help="digits: DigitScenes, 64-px frames, random init (fast); texscapes: TexScapes, 256-px "
        "frames, ImageNet EfficientNet-Lite0 (the paper's regime, slower)",
    )
    parser.add_argument(
        "--root", default=None, help="the benchmark's folder (default data/NAME; made if missing)"
    )
    parser.add_argument("--output-dir", default="runs/demo", help="where the run folders go")
    parser.add_argument("--steps", type=int, help="training steps (default: the config's)")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also train the UDA baseline without PiXL, the source-only model and the target "
        "oracle (same budget and seed) and print what PiXL and self-training each add",
    )
    parser.add_argument("--seed", type=int, help="training seed (default: the config's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pixl.engine.demo import run_demo

    run_demo(
        args.root,
        args.output_dir,
        benchmark=args.benchmark,
        steps=args.steps,
        compare=args.compare,
        progress=not args.no_progress,
        seed=args.seed,
    )
    return 0
