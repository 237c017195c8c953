"""``pixl train CONFIG [key=value ...] [--resume PATH|auto] [--overwrite]``."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model from a YAML config",
        description="Train from a flat YAML config; key.sub=value items override its settings.",
    )
    parser.add_argument("config", help="the experiment YAML (e.g. configs/digits/uda_pixl.yaml)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="e.g. trainer.max_steps=100 pixl.enabled=false",
    )
    parser.add_argument(
        "--resume",
        metavar="PATH|auto",
        help="a checkpoint to continue, or 'auto' (the run's newest)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh even if the run folder has checkpoints",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pixl.config import load_config
    from pixl.engine import Trainer
    from pixl.engine.reporting import print_result
    from pixl.engine.run_folder import in_its_run_folder

    config = in_its_run_folder(
        load_config(args.config, args.overrides), args.config, args.overrides
    )
    result = Trainer(config, resume=args.resume, overwrite=args.overwrite).fit()
    print_result(result)
    return 0
