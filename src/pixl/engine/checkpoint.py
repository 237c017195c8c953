"""Training checkpoints and exported weights (docs/design.md, "Running, scaling, keeping results").

A checkpoint is one ``.pt`` file of plain data (tensors, numbers, strings, lists, dicts) so it loads
with ``weights_only=True``: student, teacher, optimizer, scheduler, step, per-rank RNG and loader
states, the resolved config and the classes (names, palette, ignore index). Files are written
atomically (temp file + rename) as ``RUN/checkpoints/step_00001234.pt``; only the last
``keep_last`` are kept. Final weights are exported as safetensors whose metadata holds the config
and the classes (``config.yaml`` is written beside them too), so either file predicts on its own.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
import time
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from pixl.config import ExperimentConfig, config_from_dict, load_config
from pixl.data import DatasetInfo
from pixl.errors import CheckpointError, PixlError, error_line, one_line

FORMAT = "pixl-checkpoint"
VERSION = 1
_STEP_FILE = re.compile(r"step_(\d{8})\.pt$")


# Test-only hook: seconds to pause after a checkpoint's temp file is written and before it is
# renamed into place, so that tests can deliver a real signal or kill during a checkpoint write.
PAUSE_ENV = "PIXL_TEST_PAUSE_IN_CHECKPOINT_WRITE"


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` into a temp file of the same folder, then rename over ``path``.

    An OS failure (disk full, permissions) is raised as ``OSError`` naming ``path``; the temp
    file never outlives a failure.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; others' files obey umask
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if os.environ.get(PAUSE_ENV):
            time.sleep(float(os.environ[PAUSE_ENV]))
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(path)) from None
    except RuntimeError as error:  # torch's zip writer hides the OS error it ran into
        Path(tmp).unlink(missing_ok=True)
        cause = error.__context__ or error.__cause__
        if isinstance(cause, OSError):
            raise OSError(cause.errno, cause.strerror, str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a trainer checkpoint safely (``weights_only=True``); wrong files -> ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or unsafe files
        reason = one_line(error, limit=160)
        raise CheckpointError(f"{path}: not a readable pixl checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a pixl training checkpoint (no '{FORMAT}' marker)")
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {state.get('version')!r}, this pixl reads {VERSION}"
        )
    return state


def check_fits(
    state: dict[str, Any], model: nn.Module, config: ExperimentConfig, path: Path
) -> None:
    """Raise ``CheckpointError`` unless the checkpoint's model weights fit ``model`` (same keys
    and shapes) and it was trained for the same classes; names the config keys that differ."""
    from pixl.engine.build import num_classes_of

    stored = state.get("config") or {}
    changed = _differences(stored.get("model", {}), config_dict(config)["model"], "model")
    hint = f"; it was saved with {', '.join(changed[:3])}" if changed else ""
    try:
        saved_classes = num_classes_of(checkpoint_config(state, path))
    except CheckpointError:
        saved_classes = None
    if saved_classes is not None and saved_classes != num_classes_of(config):
        raise CheckpointError(
            f"{path}: trained for {saved_classes} classes, the config has "
            f"{num_classes_of(config)} (data.labelled.kind={config.data.labelled.kind}){hint}"
        )
    problems = weight_mismatches(state.get("model", {}), model)
    if problems:
        raise CheckpointError(
            f"{path}: the weights do not fit the config's model ({len(problems)} tensors differ, "
            f"e.g. {problems[0]}){hint}; resume with the config it was saved with"
        )


def _differences(saved: Any, current: Any, prefix: str) -> list[str]:
    """``key=saved (config: current)`` for each leaf that differs."""
    if isinstance(saved, dict) and isinstance(current, dict):
        out: list[str] = []
        for key in sorted(saved.keys() | current.keys()):
            out += _differences(saved.get(key), current.get(key), f"{prefix}.{key}")
        return out
    return [] if saved == current else [f"{prefix}={saved} (config: {current})"]


def checkpoint_config(state: dict[str, Any], path: str | Path) -> ExperimentConfig:
    try:
        return config_from_dict(state["config"], source=f"{path} (stored config)")
    except PixlError as error:
        raise CheckpointError(str(error)) from None


class CheckpointManager:
    """Numbered checkpoints in one folder; saving prunes all but the newest ``keep_last``."""

    def __init__(self, directory: str | Path, keep_last: int) -> None:
        self.directory = Path(directory)
        self.keep_last = keep_last

    def path_for(self, step: int) -> Path:
        return self.directory / f"step_{step:08d}.pt"

    def existing(self) -> list[Path]:
        """Checkpoints of this folder, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if _STEP_FILE.search(p.name)]
        return sorted(found, key=lambda p: p.name)

    def latest(self) -> Path | None:
        existing = self.existing()
        return existing[-1] if existing else None

    def save(self, state: dict[str, Any], step: int) -> Path:
        path = atomic_save({"format": FORMAT, "version": VERSION, **state}, self.path_for(step))
        for old in self.existing()[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path


def _is_whole(path: Path) -> bool:
    """Whether a torch zip file is complete (a truncated one has lost its central directory)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _newest_readable(checkpoints: CheckpointManager) -> Path | None:
    """The newest whole checkpoint; a truncated newer one (a disk filled, a node lost while it was
    copied) is passed over with a warning naming both files."""
    existing = checkpoints.existing()
    for index in range(len(existing) - 1, -1, -1):
        if _is_whole(existing[index]):
            return existing[index]
        previous = existing[index - 1] if index else None
        warnings.warn(
            f"{existing[index]}: truncated or corrupt; "
            + (f"resuming from {previous} instead" if previous else "no older checkpoint to use"),
            stacklevel=2,
        )
    return None


def resolve_resume(resume: str | None, run_dir: str | Path) -> Path | None:
    """``None`` -> fresh run; ``auto`` -> the newest checkpoint of the run (or fresh); else a path."""
    if resume is None:
        return None
    if resume == "auto":
        return _newest_readable(CheckpointManager(Path(run_dir) / "checkpoints", keep_last=1))
    path = Path(resume)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint to resume from not found")
    return path


# --- RNG state as plain tensors (numpy's state holds an ndarray, which weights_only refuses) ----


def capture_rng() -> dict[str, Any]:
    """torch (CPU and current CUDA device), numpy and python RNG states as plain data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [str(kind), torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(_to_tuples(state["python"]))


def _to_lists(value: Any) -> Any:
    return [_to_lists(v) for v in value] if isinstance(value, tuple) else value


def _to_tuples(value: Any) -> Any:
    return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value


# --- inference loading and export -----------------------------------------------------------


@dataclass(frozen=True)
class TrainedModel:
    """A model ready for inference with what it needs to be used on its own: the config it was
    trained with (pre-processing: ``data.val.resize``, ``eval.*``) and its classes (names,
    palette, ignore index), read from the checkpoint itself."""

    config: ExperimentConfig
    model: nn.Module
    classes: DatasetInfo


CONFIG_KEY = "pixl.config"
CLASSES_KEY = "pixl.classes"


def load_trained(path: str | Path, map_location: str | torch.device = "cpu") -> TrainedModel:
    """The student of a trainer checkpoint (``.pt``) or an exported ``.safetensors``, in eval mode.

    Both carry their config and classes (the export in its metadata), so no dataset folder and
    no ``config.yaml`` is needed; an export made by an older pixl reads ``config.yaml`` beside it,
    and a file without classes reads them from its training data. The encoder is built without
    its starting weights (no hub access). Wrong files raise ``CheckpointError`` naming the file.
    """
    from pixl.engine.build import build_model  # the model registry lives a layer below
    from pixl.models import load_weights, read_metadata

    path = Path(path)
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise CheckpointError(f"{path}: weights file not found")
        metadata = read_metadata(path)
        config = _export_config(path, metadata.get(CONFIG_KEY))
        classes = _classes(path, config, _json(metadata.get(CLASSES_KEY)))
        model = build_model(config, classes.num_classes, pretrained=False)
        load_weights(model, path)
    elif path.suffix in (".pt", ".pth", ".ckpt"):
        state = load_checkpoint(path, map_location="cpu")
        config = checkpoint_config(state, path)
        classes = _classes(path, config, state.get("classes"))
        model = build_model(config, classes.num_classes, pretrained=False)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as error:
            reason = one_line(error, limit=160)
            raise CheckpointError(f"{path}: weights do not fit the model ({reason})") from None
    else:
        raise CheckpointError(f"{path}: expected a .pt checkpoint or a .safetensors export")
    return TrainedModel(config, model.to(map_location).eval(), classes)


def load_for_inference(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[ExperimentConfig, nn.Module]:
    """``(config, model)`` of ``load_trained``."""
    trained = load_trained(path, map_location)
    return trained.config, trained.model


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _export_config(path: Path, stored: str | None) -> ExperimentConfig:
    """The config inside an export's metadata, else the ``config.yaml`` beside it."""
    if stored is not None:
        data = yaml.safe_load(stored)
        return config_from_dict(data, source=f"{path} (stored config)")
    config_path = path.with_name("config.yaml")
    if not config_path.is_file():
        raise CheckpointError(
            f"{path}: holds no config (an export of an older pixl) and needs the run's "
            f"config.yaml beside it ({config_path})"
        )
    try:
        return load_config(config_path)
    except PixlError as error:
        raise CheckpointError(str(error)) from None


def _classes(path: Path, config: ExperimentConfig, stored: Any) -> DatasetInfo:
    """The classes a checkpoint carries; one saved without them reads its training data's."""
    from pixl.engine.build import training_classes

    if stored is not None:
        try:
            return DatasetInfo.from_dict(stored)
        except ValueError as error:
            raise CheckpointError(f"{path}: unreadable class list ({error})") from None
    try:
        return training_classes(config)
    except PixlError as error:
        raise CheckpointError(
            f"{path}: holds no class list (saved by an older pixl), and its training data's "
            f"classes cannot be read ({error_line(error)}); export it again with this pixl"
        ) from None


def export_weights(
    model: nn.Module,
    config: ExperimentConfig,
    directory: str | Path,
    classes: DatasetInfo | None = None,
) -> Path:
    """Write ``model.safetensors`` (its metadata holding the config and the classes, so the file
    is used on its own) and ``config.yaml`` into ``directory``; returns the weights path.
    ``classes``: default, the training data's."""
    from pixl.config import config_to_yaml, save_config
    from pixl.engine.build import training_classes
    from pixl.models import save_weights

    classes = classes or training_classes(config)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_config(config, directory / "config.yaml")
    target = directory / "model.safetensors"
    metadata = {CONFIG_KEY: config_to_yaml(config), CLASSES_KEY: json.dumps(classes.to_dict())}
    save_weights(model, target, metadata=metadata)
    return target


def config_dict(config: ExperimentConfig) -> dict[str, Any]:
    """The config as plain data (what a checkpoint stores)."""
    return yaml.safe_load(yaml.safe_dump(config.model_dump(mode="json")))


# --- warm start ---------------------------------------------------------------------------------


def init_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The student weights held by a pixl training checkpoint (``.pt``) or a safetensors export."""
    from pixl.models import read_state_dict  # the weights reader lives a layer below

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: model.init_from file not found")
    if path.suffix in (".pt", ".pth", ".ckpt"):
        return load_checkpoint(path, map_location="cpu")["model"]
    if path.suffix == ".safetensors":
        return read_state_dict(path)
    raise CheckpointError(
        f"{path}: model.init_from expects a pixl checkpoint (.pt) or a .safetensors export"
    )


def weight_mismatches(source: Mapping[str, torch.Tensor], model: nn.Module) -> list[str]:
    """Every disagreement between a state dict and ``model``'s own: tensors the file lacks or holds
    with another shape (in the model's order), then tensors the model lacks; empty when they fit.
    Resume (``check_fits``) and ``model.init_from`` (``warm_start``) both report from it."""
    own = model.state_dict()
    problems = []
    for name, tensor in own.items():
        if name not in source:
            problems.append(f"{name} is missing from the file")
        elif tuple(source[name].shape) != tuple(tensor.shape):
            problems.append(
                f"{name}: file {tuple(source[name].shape)} vs model {tuple(tensor.shape)}"
                " (another architecture or class count?)"
            )
    problems += [
        f"{name} is in the file but not in the model" for name in source if name not in own
    ]
    return problems


def warm_start(model: nn.Module, path: str | Path) -> None:
    """Initialise ``model`` from ``path`` (``model.init_from``): every tensor must fit exactly.

    The run itself starts fresh (step 0, new optimizer and schedule); only the weights are taken.
    A model with a projection head also takes a file trained without one; its head starts fresh.
    """
    from pixl.models import warm_start_state

    state = warm_start_state(init_state_dict(path), model)
    problems = weight_mismatches(state, model)
    if problems:
        raise CheckpointError(f"{path}: does not fit this model ({problems[0]})")
    # nn.Module's own method: smp's MiT overrides load_state_dict without ``strict``.
    nn.Module.load_state_dict(model, state)
