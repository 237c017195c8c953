"""``pixl check CONFIG [key=value ...] [--batch N]``: will this run start, and does a step fit?"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="build a run's data, model, weights and optimizer; time one training step",
        description=(
            "Build everything the config's run needs (data layout and statistics, model, weights "
            "file, optimizer, teacher) and run one training step at the config's real shapes on "
            "one device; report its time, its peak memory and which stage of the step (student "
            "passes, PiXL terms, teacher pseudo-labels, backward, optimizer step) set it. "
            "Nothing is written."
        ),
    )
    parser.add_argument("config", help="the experiment YAML")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="as for pixl train")
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="labelled and unlabelled images per step (e.g. 1 on a CPU); default: the config's",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pixl.config import load_config
    from pixl.engine.check import check_config
    from pixl.errors import ConfigError

    if args.batch is not None and args.batch < 1:
        raise ConfigError(f"--batch: expected a positive number of images, got {args.batch}")
    config = load_config(args.config, args.overrides)
    report = check_config(config, batch=args.batch)
    print(f"{args.config}: ok")
    for line in report.lines():
        print(f"  {line}")
    return 0
