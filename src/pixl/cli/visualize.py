"""``pixl visualize {embedding,predictions} CONFIG --checkpoint PATH ...``: figures as PNG."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pixl.config import ExperimentConfig
    from pixl.evaluation.figures import NamedModel


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "visualize", help="figures: t-SNE of pixel features, prediction grids", description=__doc__
    )
    kinds = parser.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    embedding = kinds.add_parser(
        "embedding",
        help="t-SNE of per-class pixel features with Calinski-Harabasz / Davies-Bouldin indices",
        description=(
            "Sample pixel features per class from the val split, t-SNE them and plot them coloured "
            "by class (paper Fig. 5); give --checkpoint twice to compare two models side by side."
        ),
    )
    _common(embedding, "embedding.png", max_checkpoints=2)
    embedding.add_argument("--per-class", type=int, default=200, help="pixels per class (200)")
    embedding.add_argument("--max-images", type=int, default=20, help="images to sample from (20)")
    embedding.add_argument("--seed", type=int, default=0)
    embedding.add_argument(
        "--tsne-iterations", type=int, default=1000, help="t-SNE iterations (>= 250; 1000)"
    )
    embedding.set_defaults(handler=run_embedding)
    predictions = kinds.add_parser(
        "predictions",
        help="a grid of image / ground truth / prediction overlays",
        description="The first --num images of the val split: image, ground truth, prediction.",
    )
    _common(predictions, "predictions.png", max_checkpoints=1)
    predictions.add_argument("--num", type=int, default=4, help="images (rows) in the grid (4)")
    predictions.set_defaults(handler=run_predictions)


def _common(parser: argparse.ArgumentParser, default_name: str, max_checkpoints: int) -> None:
    parser.add_argument("config", help="the experiment YAML whose data.val is used")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.add_argument(
        "--checkpoint",
        required=True,
        action="append",
        help=".pt checkpoint or .safetensors"
        + (" (twice to compare)" if max_checkpoints > 1 else ""),
    )
    parser.add_argument("--split", help="another split of the val dataset")
    parser.add_argument("--output", type=Path, default=Path(default_name), help=f"({default_name})")
    parser.add_argument("--device", default="cpu", help="e.g. cpu, cuda (default: cpu)")
    parser.set_defaults(max_checkpoints=max_checkpoints)


def _load(args: argparse.Namespace) -> tuple[ExperimentConfig, list[NamedModel]]:
    from pixl.config import load_config
    from pixl.engine import load_for_inference
    from pixl.errors import PixlError
    from pixl.evaluation.figures import NamedModel
    from pixl.evaluation.runner import check_device

    device = check_device(args.device)  # a missing GPU is one line, before any loading
    if len(args.checkpoint) > args.max_checkpoints:
        raise PixlError(f"--checkpoint: at most {args.max_checkpoints}, got {len(args.checkpoint)}")
    config = load_config(args.config, args.overrides)
    models = [
        NamedModel(path, load_for_inference(path, map_location=device)[1])
        for path in args.checkpoint
    ]
    return config, models


def run_embedding(args: argparse.Namespace) -> int:
    from pixl.evaluation.figures import embedding_figure

    config, models = _load(args)
    indices = embedding_figure(
        models,
        config,
        args.output,
        per_class=args.per_class,
        max_images=args.max_images,
        seed=args.seed,
        split=args.split,
        tsne_iterations=args.tsne_iterations,
    )
    for name, values in indices.items():
        print(
            f"{name}: Calinski-Harabasz {values['calinski_harabasz']:.1f}, "
            f"Davies-Bouldin {values['davies_bouldin']:.3f}"
        )
    print(f"figure: {args.output}; indices: {args.output.with_suffix('.json')}")
    return 0


def run_predictions(args: argparse.Namespace) -> int:
    from pixl.evaluation.figures import prediction_grid

    config, models = _load(args)
    path = prediction_grid(models[0], config, args.output, num_images=args.num, split=args.split)
    print(f"figure: {path}")
    return 0
