"""The machinery every generated benchmark shares: layout, determinism, splits, statistics, card.

A benchmark is a ``SceneSpec``: its classes, which domain each split is drawn from, how many scenes
each split has, and ``render(domain, rng, size) -> (image, label)``. ``generate_scenes`` writes it
in the Cityscapes layout (city folder = domain, train-id labels) so the same loader reads it; scene
``i`` of a split is rendered from ``np.random.default_rng([seed, split code, i])``, so one seed gives
the same bytes on any machine and with any number of workers. Files already there are decoded and
compared; a scene that differs is written again and reported. Adding a benchmark is one module
with a spec and a renderer (DigitScenes: ``pixl.data.digits``; TexScapes: ``pixl.data.texscapes``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from rich.progress import track

from pixl.core import IGNORE_INDEX
from pixl.data.io import write_png_atomic, write_rgb_atomic
from pixl.data.report import PrepareOptions, PrepareReport
from pixl.data.stats import build_stats, class_stats_path, count_classes, save_stats
from pixl.errors import DataError

SPLITS: tuple[str, ...] = ("source_train", "target_train", "target_val")
_SPLIT_CODE = {"source_train": 0, "target_train": 1, "target_val": 2}
DOMAINS: dict[str, str] = {"source_train": "synth", "target_train": "photo", "target_val": "photo"}
SSL_FRACTION = 30  # splits/target_train_1_30.txt: a seeded 1/30 of target_train
PURITY_STRIDE = 4  # the decoders' feature stride
PURITY_RATIO = 0.75  # SePiCo's / DAFormer's rule: one class covers >= 75 % of the cell

Renderer = Callable[[str, np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SceneSpec:
    """One generated benchmark: everything ``generate_scenes`` needs that differs between them."""

    kind: str  # the dataset kind's name, e.g. "digits"
    title: str  # e.g. "DigitScenes"
    classes: tuple[str, ...]
    default_sizes: Mapping[str, int]
    image_size: int
    version: int  # bump when render changes: old folders are refused, not mixed
    render: Renderer  # module-level, so worker processes can pickle it
    description: tuple[str, ...]  # the dataset card's provenance lines
    preload: Callable[[], object] = field(default=lambda: None)  # loaded once; workers inherit it
    card_purity: bool = True  # False: a card written before the purity figure keeps its bytes

    @property
    def manifest(self) -> str:
        return f"pixl_{self.kind}.json"


def cell_purity(
    label: np.ndarray,
    stride: int = PURITY_STRIDE,
    ratio: float = PURITY_RATIO,
    ignore_index: int = IGNORE_INDEX,
) -> tuple[int, int]:
    """(pure cells, labelled cells) of a label map cut into ``stride`` x ``stride`` cells.

    A cell is labelled when at least one of its pixels is not ``ignore_index``; it is pure when
    one class covers at least ``ratio`` of its pixels, ignored pixels counted in its area (the
    rule of SePiCo's / DAFormer's ``downscale_label_ratio``). Rows and columns beyond the last whole
    cell are left out. Shape: label [H, W] -> two ints.
    """
    h, w = (label.shape[0] // stride) * stride, (label.shape[1] // stride) * stride
    cells = label[:h, :w].reshape(h // stride, stride, w // stride, stride).transpose(0, 2, 1, 3)
    cells = cells.reshape(-1, stride * stride).astype(np.int64)
    valid = cells != ignore_index
    labelled = valid.any(axis=1)
    ids = np.where(valid, cells, 0)
    best = np.zeros(len(cells), dtype=np.int64)
    for value in np.unique(ids[valid]):
        best = np.maximum(best, ((ids == value) & valid).sum(axis=1))
    pure = labelled & (best >= ratio * stride * stride)
    return int(pure.sum()), int(labelled.sum())


def scene_paths(root: Path, split: str, index: int) -> tuple[str, Path, Path]:
    """(stem, image path, label path) of scene ``index`` of ``split``."""
    domain = DOMAINS[split]
    name = f"{domain}_{split.split('_')[1]}_{index:05d}"
    image = root / "leftImg8bit" / split / domain / f"{name}_leftImg8bit.png"
    label = root / "gtFine" / split / domain / f"{name}_gtFine_labelTrainIds.png"
    return name, image, label


def _make_one(
    args: tuple[SceneSpec, Path, str, int, int, int],
) -> tuple[str, dict[int, int], bool, list[str], tuple[int, int]]:
    """Render one scene; files already there are decoded and checked, a bad one is written again
    (generation is deterministic) and reported as a problem."""
    spec, root, split, index, seed, size = args
    name, image_path, label_path = scene_paths(root, split, index)
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], index])
    image, label = spec.render(DOMAINS[split], rng, size)
    problems = [
        problem
        for problem in (_check_file(image_path, image), _check_file(label_path, label))
        if problem is not None
    ]
    written = not (image_path.is_file() and label_path.is_file())
    if written or problems:
        write_rgb_atomic(image_path, image)
        write_png_atomic(label_path, label)
    counts = count_classes(label, len(spec.classes))
    return name, counts, written, problems, cell_purity(label)


def _check_file(path: Path, expected: np.ndarray) -> str | None:
    """Why an existing file differs from what this generator writes (``None``: fine or absent)."""
    if not path.is_file():
        return None
    flag = cv2.IMREAD_COLOR if expected.ndim == 3 else cv2.IMREAD_UNCHANGED
    data = cv2.imread(str(path), flag)
    if data is None:
        return f"{path}: cannot decode (corrupt or truncated); written again"
    if expected.ndim == 3:
        data = cv2.cvtColor(data, cv2.COLOR_BGR2RGB)
    if data.shape != expected.shape or not np.array_equal(data, expected):
        return f"{path}: differs from the scene of its seed; written again"
    return None


def is_current(spec: SceneSpec, root: str | Path) -> bool:
    """Whether ``root`` was written by this generator version (older scenes differ)."""
    path = Path(root) / spec.manifest
    try:
        return json.loads(path.read_text()).get("version") == spec.version
    except (OSError, ValueError):
        return False


def is_complete(spec: SceneSpec, root: Path) -> bool:
    """Whether generation finished (the card is written last) with this generator version."""
    return (Path(root) / "dataset_card.md").is_file() and is_current(spec, root)


def _check_manifest(spec: SceneSpec, root: Path, manifest: dict) -> None:
    path = root / spec.manifest
    if path.is_file():
        previous = json.loads(path.read_text())
        changed = {k: (previous.get(k), v) for k, v in manifest.items() if previous.get(k) != v}
        if changed:
            what = ", ".join(f"{k} {old} (asked {new})" for k, (old, new) in changed.items())
            raise DataError(
                f"{path}: this folder holds {spec.title} with {what}; "
                "delete the folder or use another one"
            )
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=1))


def _ssl_subset(root: Path, names: list[str], seed: int) -> Path:
    """Seeded 1/30 of target_train, for semi-supervised runs."""
    rng = np.random.default_rng([seed, SSL_FRACTION])
    count = max(1, round(len(names) / SSL_FRACTION))
    chosen = sorted(names[i] for i in rng.choice(len(names), size=count, replace=False))
    path = root / "splits" / f"target_train_1_{SSL_FRACTION}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{n}\n" for n in chosen))
    return path


def write_dataset_card(
    spec: SceneSpec,
    root: Path,
    stats: dict[str, np.ndarray],
    sizes: dict[str, int],
    seed: int,
    image_size: int,
    purity: dict[str, float] | None = None,
) -> Path:
    """``ROOT/dataset_card.md``: provenance, sizes, class frequencies and cell purity per split."""
    lines = [
        f"# {spec.title}",
        "",
        f"Generated by `pixl data prepare {spec.kind}` (seed {seed}), {image_size}x{image_size} px,",
        *spec.description,
        "",
        "| split | domain | images |",
        "|---|---|---|",
        *(f"| {s} | {DOMAINS[s]} | {n} |" for s, n in sizes.items()),
        "",
        "Class pixel frequencies (%):",
        "",
        "| class | " + " | ".join(sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for c, name in enumerate(spec.classes):
        cells = [f"{100 * stats[s][c]:.2f}" for s in sizes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if purity is not None:  # DigitScenes' card predates the purity figure and keeps its bytes
        lines += [
            "",
            f"Labelled {PURITY_STRIDE}x{PURITY_STRIDE}-pixel feature cells that one class covers to "
            f">= {PURITY_RATIO:.0%}: "
            + ", ".join(f"{s} {100 * p:.1f} %" for s, p in purity.items())
            + ".",
        ]
    path = root / "dataset_card.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def purity_note(split: str, pure: int, labelled: int) -> str:
    """The prepare report's line for one split's cell purity."""
    share = pure / max(labelled, 1)
    return (
        f"{split}: {100 * share:.1f} % of {labelled} labelled {PURITY_STRIDE}x{PURITY_STRIDE} "
        f"feature cells are >= {PURITY_RATIO:.0%} one class"
    )


def generate_scenes(
    spec: SceneSpec,
    root: str | Path,
    *,
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    image_size: int | None = None,
    workers: int = 1,
    progress: bool = False,
) -> PrepareReport:
    """Write ``spec``'s benchmark under ``root``; identical bytes for one seed; re-runs skip done
    files. The report's ``notes`` give each split's cell purity (``cell_purity``)."""
    root = Path(root)
    sizes = dict(spec.default_sizes if sizes is None else sizes)
    image_size = spec.image_size if image_size is None else image_size
    if set(sizes) != set(spec.default_sizes) or min(sizes.values()) < 1 or image_size < 32:
        raise DataError(
            f"{spec.title} sizes need {sorted(spec.default_sizes)} >= 1 and image_size >= 32"
        )
    _check_manifest(
        spec,
        root,
        {"version": spec.version, "seed": seed, "sizes": sizes, "image_size": image_size},
    )
    report = PrepareReport(spec.kind, root)
    for split in sizes:
        for folder in ("leftImg8bit", "gtFine"):
            (root / folder / split / DOMAINS[split]).mkdir(parents=True, exist_ok=True)
    spec.preload()  # loaded once here; forked workers inherit it
    frequencies: dict[str, np.ndarray] = {}
    purity: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else nullcontext() as pool:
        for split, count in sizes.items():
            jobs = [(spec, root, split, i, seed, image_size) for i in range(count)]
            mapped = pool.map(_make_one, jobs, chunksize=16) if pool else map(_make_one, jobs)
            label = f"{spec.kind} {split}"
            results = list(track(mapped, total=count, description=label, disable=not progress))
            report.converted += sum(r[2] or bool(r[3]) for r in results)
            report.skipped += sum(not r[2] and not r[3] for r in results)
            report.problems += [problem for r in results for problem in r[3]]
            stats = build_stats(
                spec.kind, split, len(spec.classes), [(r[0], r[1]) for r in results]
            )
            save_stats(stats, class_stats_path(root, split))
            report.stats_files.append(class_stats_path(root, split))
            frequencies[split] = stats.frequencies()
            pure, labelled = (sum(r[4][i] for r in results) for i in (0, 1))
            purity[split] = pure / max(labelled, 1)
            report.notes.append(purity_note(split, pure, labelled))
            if split == "target_train":
                _ssl_subset(root, [r[0] for r in results], seed)
    write_dataset_card(
        spec, root, frequencies, sizes, seed, image_size, purity if spec.card_purity else None
    )
    return report


def prepare_generated(
    spec: SceneSpec, kind: object, root: Path, options: PrepareOptions
) -> PrepareReport:
    """The prepare step of a generated kind (bind ``spec`` first): generate it at ``root`` with
    its default sizes."""
    return generate_scenes(
        spec, root, seed=options.seed, workers=options.workers, progress=options.progress
    )
