"""Config-driven evaluation and prediction: what ``pixl eval``, ``pixl predict`` and the trainer's
periodic and final evaluation run (one evaluation path: a run's own mIoU is ``pixl eval``'s).

The model comes in already loaded (the CLI loads it with the engine, a layer above); the config
says which split, how to resize, and whole or sliding-window inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from pixl.config import ExperimentConfig
from pixl.config.schema import DatasetSpec
from pixl.data import DatasetInfo, dataset_info
from pixl.data.dataset import SegmentationDataset, build_dataset
from pixl.data.io import read_image
from pixl.data.transforms import normalize_image, resize_pair
from pixl.errors import ConfigError, DataError, error_line
from pixl.evaluation.export import (
    OutputFormat,
    check_format,
    list_images,
    prediction_path,
    save_prediction,
)
from pixl.evaluation.inference import (
    Mode,
    check_num_classes,
    check_same_classes,
    evaluate,
    predict_labels,
)
from pixl.evaluation.metrics import AllReducer
from pixl.evaluation.report import EvalReport


@dataclass(frozen=True)
class InferenceSettings:
    """Whole image or sliding window, with the window and stride of ``config.eval``."""

    mode: Mode = "whole"
    window: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None

    @classmethod
    def from_config(cls, config: ExperimentConfig, mode: str | None = None) -> InferenceSettings:
        chosen = mode or config.eval.mode
        if chosen not in ("whole", "slide"):
            raise ConfigError(f"mode: expected 'whole' or 'slide', got {chosen!r}")
        if chosen == "slide" and config.eval.window is None:
            raise ConfigError(
                "slide inference needs eval.window in the config (e.g. the crop size)"
            )
        return cls(chosen, config.eval.window, config.eval.stride)  # type: ignore[arg-type]


class FullSizeLabels(Dataset[dict[str, Any]]):
    """A val dataset whose labels are read at their original size, whatever the image resize.

    Scores are then counted on the full-resolution ground truth, as the official Cityscapes
    evaluator counts them (the logits are upsampled to the label's size).
    """

    def __init__(self, dataset: SegmentationDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = dict(self.dataset[index])
        if self.dataset.pipeline.resize is not None:
            label = self.dataset.read_label(index)
            sample["label"] = torch.from_numpy(label).long()
        return sample


def split_dataset(spec: DatasetSpec, split: str | None = None) -> SegmentationDataset:
    """The labelled split of ``spec`` (default: its own split), resized as the model expects."""
    return build_dataset(
        spec.kind,
        spec.root,
        split or spec.split,
        train=False,
        crop_size=None,
        resize=spec.resize,
        labelled=True,
        subset_file=spec.subset_file,
    )


def eval_dataset(spec: DatasetSpec, split: str | None = None) -> FullSizeLabels:
    """``split_dataset`` with labels at their original size (what scores are counted on)."""
    return FullSizeLabels(split_dataset(spec, split))


def eval_subsets(config: ExperimentConfig) -> dict[str, tuple[int, ...]]:
    """mIoU16 / mIoU13 when the labelled (source) or the val data is SYNTHIA."""
    labelled, val = config.data.labelled, config.data.val
    subsets = dict(dataset_info(labelled.kind, labelled.root).eval_subsets)
    subsets.update(dataset_info(val.kind, val.root).eval_subsets)
    return subsets


def rank_shard(
    dataset: Dataset[Any], rank: int, world_size: int, max_images: int | None = None
) -> Dataset[Any]:
    """Every ``world_size``-th item from ``rank``: each image is scored once (no sampler padding).

    ``max_images`` is a global cap: the first ``max_images`` items, shared out between the ranks.
    """
    size = len(dataset)  # type: ignore[arg-type]
    if world_size <= 1 and (max_images is None or max_images >= size):
        return dataset
    end = size if max_images is None else min(size, max_images)
    return Subset(dataset, list(range(rank, end, world_size)))


def collate_by_size(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One loader batch as a list of stacked batches, one per (image size, label size), in the
    order each size first comes: a split whose frames differ in size (GTA5, users' photos) is
    scored in batches all the same."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for sample in samples:
        label = sample.get("label")
        key = (tuple(sample["image"].shape), None if label is None else tuple(label.shape))
        groups.setdefault(key, []).append(sample)
    return [default_collate(group) for group in groups.values()]


def eval_loader(
    config: ExperimentConfig,
    *,
    split: str | None = None,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
) -> DataLoader:
    """The val split (or ``split``) with full-size labels: this rank's disjoint shard of its first
    ``eval.max_images`` images (a global cap), in order; each batch is a list of same-size
    batches (``collate_by_size``)."""
    dataset = eval_dataset(config.data.val, split)
    shard = rank_shard(dataset, rank, world_size, config.eval.max_images)
    # Its own generator: evaluating never draws from the global RNG (a resumed run stays exact).
    return DataLoader(
        shard,
        batch_size=config.eval.batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_by_size,  # frames (or their full-size labels) may differ in size
        generator=torch.Generator().manual_seed(rank),
    )


def evaluate_config(
    model: nn.Module,
    config: ExperimentConfig,
    *,
    source: str,
    split: str | None = None,
    settings: InferenceSettings | None = None,
    fabric: Any | None = None,
    num_workers: int = 0,
    loader: DataLoader | None = None,
    classes: Sequence[str] | None = None,
) -> EvalReport:
    """Score ``model`` on the config's val split (or ``split``); under ``fabric`` each rank takes a
    shard and the confusion matrix is summed across ranks. ``source`` names the weights (in errors
    and as the report's ``checkpoint``).

    ``loader``: an ``eval_loader`` of this config made beforehand (the trainer makes one per run,
    so a bad val split fails before training); by default one is made here. Callers run this
    outside autocast (full precision whatever a run trained with), so ``pixl eval`` and the
    trainer score the same weights alike. ``classes``: the model's class names (its
    checkpoint's), which the val data must have, in the same order.
    """
    info = dataset_info(config.data.val.kind, config.data.val.root)
    check_num_classes(model, info.num_classes, source)
    if classes is not None:
        where = f"data.val ({config.data.val.root})"
        check_same_classes(classes, info.class_names, source, where)
    settings = settings or InferenceSettings.from_config(config)
    rank, world_size = (fabric.global_rank, fabric.world_size) if fabric else (0, 1)
    if loader is None:
        loader = eval_loader(
            config, split=split, rank=rank, world_size=world_size, num_workers=num_workers
        )
    reducer: AllReducer | None = None
    if fabric is not None:
        model = model.to(fabric.device)
        reducer = fabric
    report = evaluate(
        model,
        loader,
        num_classes=info.num_classes,
        mode=settings.mode,
        window=settings.window,
        stride=settings.stride,
        fabric=reducer,
        class_names=info.class_names,
        subsets=eval_subsets(config),
    )
    return replace(report, checkpoint=source)


def check_device(name: str) -> torch.device:
    """``--device`` as a torch device that exists here, or one ``ConfigError`` line."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {name}: not a device (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {name}: no CUDA device is available here (use cpu)")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"--device {name}: only {count} CUDA device(s) here")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {name}: MPS is not available here (use cpu)")
    return device


def check_separate(source: Path, output_dir: Path) -> None:
    """Refuse an output folder that would overwrite the inputs or be read as input next time.

    A single image may not be predicted into its own folder: ``photos/same.jpg`` would be written
    as ``photos/same.png``, which may be another photo (any input extension is refused alike).
    """
    src, out = source.resolve(), output_dir.resolve()
    if not src.exists():
        return  # list_images says so
    if src.is_file():
        if out == src.parent:
            raise ConfigError(
                f"--output {output_dir} is the folder of --input {source}: the prediction "
                f"would be written among the images (as {src.with_suffix('.png').name}); "
                "choose another folder"
            )
        return
    if out == src:
        raise ConfigError(
            f"--output {output_dir} is the --input folder: the predictions would replace the "
            "images; choose another folder"
        )
    if out.is_relative_to(src):
        raise ConfigError(
            f"--output {output_dir} is inside --input {source}: a later run would predict the "
            "predictions; choose a folder outside it"
        )
    if src.is_relative_to(out):
        raise ConfigError(
            f"--input {source} is inside --output {output_dir}: predictions would be written "
            "among the images; choose a folder outside it"
        )


def plan_predictions(source: Path, output_dir: Path) -> list[tuple[Path, Path]]:
    """``(image, prediction path)`` for every image of ``source``, checked before any work: the
    output is separate from the input (``check_separate``) and no two images map to one output
    name (``a.jpg`` and ``a.png`` would both be ``a.png``)."""
    check_separate(source, output_dir)
    root, images = list_images(source)
    plan = [(image, prediction_path(image, root, output_dir)) for image in images]
    first_of: dict[Path, Path] = {}
    for image, target in plan:
        other = first_of.setdefault(target, image)
        if other != image:
            raise ConfigError(
                f"--input {source}: {other.name} and {image.name} would both be predicted as "
                f"{target}; rename one of them (predictions keep the stem, as PNG)"
            )
    return plan


def predict_files(
    model: nn.Module,
    config: ExperimentConfig,
    source: Path,
    output_dir: Path,
    fmt: OutputFormat,
    *,
    weights: str,
    settings: InferenceSettings | None = None,
    legend: bool = True,
    failed: list[str] | None = None,
    classes: DatasetInfo | None = None,
) -> list[Path]:
    """Predict every image of ``source`` (file or folder) at its original size and write ``fmt``.

    Images are resized like the val data (``data.val.resize``) before the model; the logits are
    resized back to the original size before the argmax. ``weights`` names the model in errors.
    ``legend``: the colour and overlay pictures carry the legend of the classes they show.
    The output never overlaps the input and no two images share an output (``plan_predictions``). With a ``failed`` list, an image
    that cannot be read is noted there (one line each) and the rest are predicted.
    ``classes``: the model's (names, palette; ``load_trained`` reads them from the checkpoint);
    default, read from the training data's folder.
    """
    labelled = config.data.labelled
    info = classes or dataset_info(labelled.kind, labelled.root)
    check_num_classes(model, info.num_classes, weights)
    check_format(fmt, info.num_classes)
    settings = settings or InferenceSettings.from_config(config)
    plan = plan_predictions(source, output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)  # an unusable output fails before any work
    device = next(model.parameters()).device
    names = info.class_names if legend else None
    written = []
    model.eval()
    for image_path, target in plan:
        try:
            image = read_image(image_path)
            resized, _ = resize_pair(image, None, config.data.val.resize or image.shape[:2])
            labels = predict_labels(
                model,
                normalize_image(resized)[None].to(device),
                mode=settings.mode,
                window=settings.window,
                stride=settings.stride,
                size=image.shape[:2],
            )
            prediction = labels[0].cpu().numpy().astype(np.uint8)
            written.append(
                save_prediction(
                    prediction, target, fmt, palette=info.palette, image=image, class_names=names
                )
            )
        except DataError as error:  # a bad input; a failing output stops (OSError) at once
            if failed is None:
                raise
            failed.append(error_line(error))
    return written
