"""``pixl eval CONFIG --checkpoint PATH [key=value ...]``: per-class IoU table, mIoU, JSON report."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score a checkpoint on a labelled split (per-class IoU, mIoU, JSON report)",
        description=(
            "Whole-image or sliding-window inference over the config's val split; prints the "
            "per-class IoU table and writes a JSON report. --devices N runs DDP over N devices."
        ),
    )
    parser.add_argument("config", help="the experiment YAML whose data.val (and eval) are used")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. eval.mode=slide")
    parser.add_argument(
        "--checkpoint", required=True, help="a trainer checkpoint (.pt) or exported .safetensors"
    )
    parser.add_argument(
        "--split", help="another split of the val dataset (default: data.val.split)"
    )
    parser.add_argument("--mode", choices=("whole", "slide"), help="default: eval.mode")
    parser.add_argument(
        "--output", type=Path, help="the JSON report (default: RUN/eval/<checkpoint>_<split>.json)"
    )
    parser.add_argument("--accelerator", default="auto", help="cpu, cuda, gpu, mps or auto")
    parser.add_argument("--devices", type=int, default=1, help="devices for DDP (default: 1)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from pixl.config import load_config
    from pixl.engine import load_trained
    from pixl.engine.run_folder import in_its_run_folder
    from pixl.evaluation import render_table
    from pixl.evaluation.fabric import start_fabric, stop_distributed
    from pixl.evaluation.report import report_path
    from pixl.evaluation.runner import InferenceSettings, evaluate_config

    config = in_its_run_folder(
        load_config(args.config, args.overrides), args.config, args.overrides
    )
    settings = InferenceSettings.from_config(config, args.mode)
    checkpoint = str(Path(args.checkpoint).resolve())
    split = args.split or config.data.val.split
    default = Path(config.run_dir) / "eval" / f"{Path(args.checkpoint).stem}_{split}.json"
    # Before the work: a report never replaces another checkpoint's (nor a user's file).
    output = report_path(args.output or default, checkpoint, chosen=args.output is not None)
    fabric = start_fabric(args.accelerator, args.devices)
    done = False
    try:
        trained = load_trained(args.checkpoint, map_location=fabric.device)
        report = evaluate_config(
            trained.model,
            config,
            source=checkpoint,
            split=args.split,
            settings=settings,
            fabric=fabric,
            classes=trained.classes.class_names,
        )
        done = True
    finally:  # every rank leaves DDP cleanly (after a barrier only if all of them got here)
        stop_distributed(barrier=done)
    if fabric.is_global_zero:
        report.to_json(output)
        console = Console(soft_wrap=True)  # paths stay on one line (copyable)
        console.print(render_table(report))
        console.print(
            f"mIoU {100 * report.miou:.2f} on {report.num_images} images of {checkpoint}; "
            f"report: {output}"
        )
    return 0
