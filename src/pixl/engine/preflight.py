"""Everything about a run's data that can be checked before its first step, by ``pixl train`` and
``pixl check`` alike (docs/design.md, "How a run flows").

- Classes: the labelled (source) data's class names, in order, are those of the val data and of
  the unlabelled (target) data where it lists classes: class i must mean one thing throughout.
- Files: every image and label of every split opens, with the label as large as its image. The
  trainer reads headers only (fast); ``pixl check`` decodes every file in full.
- Settings the data needs: a training split whose images differ in size needs ``crop_size`` or
  ``resize`` (a batch stacks equal sizes); labelled and unlabelled crops are the same size
  (ClassMix pastes one onto the other).

Each problem is one ``PixlError`` line naming the config key, the file and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pixl.config import ExperimentConfig
from pixl.config.schema import DatasetSpec
from pixl.data import dataset_info, get_kind
from pixl.data.dataset import SegmentationDataset, build_dataset
from pixl.data.io import image_size
from pixl.errors import DataError, error_line
from pixl.evaluation.inference import check_same_classes


def data_specs(config: ExperimentConfig) -> Iterator[tuple[str, DatasetSpec, bool, bool]]:
    """``(key, spec, labelled, trained on)`` for each dataset of the run."""
    data = config.data
    yield "data.labelled", data.labelled, True, True
    if data.unlabelled is not None:
        yield "data.unlabelled", data.unlabelled, False, True
    yield "data.val", data.val, True, False


def check_classes(config: ExperimentConfig) -> None:
    """The val and unlabelled data have the labelled data's classes, names and order."""
    labelled = config.data.labelled
    expected = dataset_info(labelled.kind, labelled.root).class_names
    source = "data.labelled"
    for key, spec, is_labelled, _ in data_specs(config):
        if key == "data.labelled":
            continue
        kind = get_kind(spec.kind)
        lists_classes = kind.classes is not None or is_labelled
        if not lists_classes and kind.read_classes is not None:
            try:
                kind.info(spec.root)
                lists_classes = True
            except DataError:
                lists_classes = False  # unlabelled images without a class list: nothing to match
        if lists_classes:
            found = dataset_info(spec.kind, spec.root).class_names
            check_same_classes(expected, found, source, f"{key} ({spec.root})")


def _dataset(spec: DatasetSpec, labelled: bool) -> SegmentationDataset:
    return build_dataset(
        spec.kind,
        spec.root,
        spec.split,
        train=False,
        crop_size=None,
        resize=None,
        labelled=labelled,
        subset_file=spec.subset_file,
    )


def _file_problem(dataset: SegmentationDataset, index: int, full: bool) -> str | None:
    """Why item ``index`` cannot be used (``None``: it can)."""
    record = dataset.records[index]
    try:
        if full:
            dataset.load(index)  # decodes image and label, checks sizes and class ids
            return None
        size = image_size(record.image, verify=False)
        if dataset.labelled:
            label = image_size(record.label, verify=False)
            if label != size:
                return (
                    f"{record.label}: label size {label} differs from image size {size} of "
                    f"{record.image.name}"
                )
    except DataError as error:
        return error_line(error)
    return None


def check_files(config: ExperimentConfig, *, full: bool = False) -> None:
    """Every image and label of every split opens (``full``: decodes) with matching sizes; a
    training split of mixed sizes has ``crop_size`` or ``resize``. Raises one ``DataError``
    line per split: how many files fail and the first problem."""
    for key, spec, labelled, trained in data_specs(config):
        dataset = _dataset(spec, labelled)
        problems = [p for i in range(len(dataset)) if (p := _file_problem(dataset, i, full))]
        if problems:
            raise DataError(
                f"{key} ({spec.root}, split {spec.split}): {len(problems)} of {len(dataset)} "
                f"files cannot be used, first: {problems[0]}"
            )
        if trained and spec.crop_size is None and spec.resize is None:
            _check_one_size(key, dataset)


def _check_one_size(key: str, dataset: SegmentationDataset) -> None:
    sizes: dict[tuple[int, int], Path] = {}
    for record in dataset.records:
        sizes.setdefault(image_size(record.image, verify=False), record.image)
        if len(sizes) > 1:
            (a, first), (b, second) = sizes.items()
            raise DataError(
                f"{key}: images differ in size ({first.name} {a[0]}x{a[1]}, {second.name} "
                f"{b[0]}x{b[1]}) and {key}.crop_size is null; set {key}.crop_size (e.g. "
                f"[{min(a[0], b[0])}, {min(a[1], b[1])}]) or {key}.resize"
            )


def check_crops(config: ExperimentConfig) -> None:
    """Self-training mixes a labelled crop into an unlabelled one: both the same size."""
    labelled, unlabelled = config.data.labelled, config.data.unlabelled
    if unlabelled is None or labelled.crop_size == unlabelled.crop_size:
        return
    raise DataError(
        f"data.unlabelled.crop_size {_listed(unlabelled.crop_size)} differs from "
        f"data.labelled.crop_size {_listed(labelled.crop_size)}: ClassMix pastes labelled crops onto unlabelled ones of one size; "
        "set both alike"
    )


def _listed(size: tuple[int, int] | None) -> str:
    return "null" if size is None else f"[{size[0]}, {size[1]}]"


def preflight(config: ExperimentConfig, *, full: bool = False) -> None:
    """What a run's settings and data must satisfy before step 1 (see the module doc)."""
    check_crops(config)
    check_classes(config)
    check_files(config, full=full)
