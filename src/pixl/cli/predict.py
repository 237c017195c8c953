"""``pixl predict --checkpoint PATH --input FILE|DIR --output DIR --format FORMAT``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="segment images and write the predictions",
        description=(
            "Predict each image at its original size. Formats: trainid (class ids), labelid "
            "(Cityscapes label ids: the official submission format), color, overlay (both with a "
            "legend of the classes present below the image, unless --no-legend)."
        ),
    )
    parser.add_argument(
        "--checkpoint", required=True, help="a trainer checkpoint (.pt) or exported .safetensors"
    )
    parser.add_argument("--input", required=True, type=Path, help="an image, or a folder of images")
    parser.add_argument("--output", required=True, type=Path, help="the folder to write into")
    parser.add_argument(
        "--format", default="trainid", choices=("trainid", "labelid", "color", "overlay")
    )
    parser.add_argument(
        "--mode", choices=("whole", "slide"), help="default: the checkpoint's eval.mode"
    )
    parser.add_argument(
        "--no-legend",
        dest="legend",
        action="store_false",
        help="color / overlay: the picture alone, pixel-aligned with the input",
    )
    parser.add_argument("--device", default="cpu", help="e.g. cpu, cuda, cuda:1 (default: cpu)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pixl.engine import load_trained
    from pixl.evaluation.runner import (
        InferenceSettings,
        check_device,
        plan_predictions,
        predict_files,
    )

    device = check_device(args.device)
    plan_predictions(args.input, args.output)  # before the model is loaded: fail fast
    trained = load_trained(args.checkpoint, map_location=device)  # classes travel inside it
    failed: list[str] = []
    written = predict_files(
        trained.model,
        trained.config,
        args.input,
        args.output,
        args.format,
        weights=args.checkpoint,
        settings=InferenceSettings.from_config(trained.config, args.mode),
        legend=args.legend,
        failed=failed,
        classes=trained.classes,
    )
    print(f"{len(written)} {args.format} predictions written to {args.output}")
    for problem in failed:
        print(f"problem: {problem}", file=sys.stderr)
    if failed:
        print(
            f"error: {len(failed)} of {len(failed) + len(written)} images failed", file=sys.stderr
        )
        return 1
    return 0
