"""Loading and saving weights: local files only, tensors only (``weights_only=True``)."""

from __future__ import annotations

import logging
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from pixl.errors import CheckpointError, one_line

log = logging.getLogger(__name__)

# Containers that training frameworks wrap a state dict in (mmseg/DAFormer, timm, Lightning, ours).
_WRAPPER_KEYS = ("state_dict", "model", "student", "module")
# Official MiT / mmseg files carry an ImageNet classifier that the segmentation encoder drops.
_DROPPED_PREFIXES = ("head.",)


@dataclass
class LoadReport:
    """Keys of the module left untouched (missing), keys of the file not used (unexpected) and
    keys present in both with different shapes (mismatched, left untouched too)."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "name: file shape vs model shape"


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read tensors from a ``.safetensors`` or a torch file, refusing anything but tensors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except SafetensorError as error:
            raise CheckpointError(
                f"{path}: not a valid safetensors file ({one_line(error)})"
            ) from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        if found is None:
            raise CheckpointError(
                f"{path}: not a readable torch file (corrupt or not a checkpoint)"
            ) from None
        raise CheckpointError(
            f"{path}: holds pickled Python objects ({found.group(1)}), refused (only tensors are "
            "loaded); re-save it as a plain state dict or as safetensors"
        ) from None
    except (RuntimeError, EOFError, OSError) as error:
        first = one_line(error)
        raise CheckpointError(f"{path}: not a readable torch file ({first})") from None
    return _unwrap(obj, path)


def _unwrap(obj: object, path: Path) -> dict[str, Tensor]:
    while isinstance(obj, Mapping) and not any(isinstance(v, Tensor) for v in obj.values()):
        inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path}: expected a state dict (name -> tensor), got {type(obj).__name__}"
        )
    tensors = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: holds no tensors (expected a state dict)")
    return tensors


def _best_prefix(source: Mapping[str, Tensor], target: set[str]) -> str:
    """The leading key prefix whose removal makes the most source keys name target keys."""
    candidates = {""}
    for key in source:
        parts = key.split(".")
        candidates.update(".".join(parts[:n]) + "." for n in range(1, min(len(parts), 4)))
    return max(
        sorted(candidates, key=len),
        key=lambda p: sum(k.startswith(p) and k[len(p) :] in target for k in source),
    )


def match_state_dict(
    source: Mapping[str, Tensor], module: nn.Module
) -> tuple[dict[str, Tensor], LoadReport]:
    """Rename ``source`` keys onto ``module`` (prefix stripped, classifier dropped); report the rest."""
    own = module.state_dict()
    prefix = _best_prefix(source, set(own))
    matched: dict[str, Tensor] = {}
    report = LoadReport()
    for key, value in source.items():
        name = key[len(prefix) :] if key.startswith(prefix) else key
        if name not in own:
            if not name.startswith(_DROPPED_PREFIXES):
                report.unexpected.append(key)
        elif own[name].shape != value.shape:
            report.mismatched.append(
                f"{name}: file {tuple(value.shape)} vs model {tuple(own[name].shape)}"
            )
        else:
            matched[name] = value
    report.missing = [k for k in own if k not in matched and not k.endswith("num_batches_tracked")]
    return matched, report


def load_pretrained(module: nn.Module, path: str | Path) -> LoadReport:
    """Load what fits from a local weights file into ``module`` and report what did not.

    Accepts smp/timm state dicts, the official MiT ``.pth`` (its classifier ``head.*`` is dropped),
    mmseg/DAFormer checkpoints (``state_dict`` + ``backbone.`` prefix) and ``.safetensors``.
    Raises ``CheckpointError`` when the file holds pickled objects or nothing matches.
    """
    return load_state(module, read_state_dict(path), str(path))


def load_state(module: nn.Module, source: Mapping[str, Tensor], origin: str) -> LoadReport:
    """``load_pretrained`` for tensors already in memory; ``origin`` names them in messages."""
    matched, report = match_state_dict(source, module)
    if not matched:
        raise CheckpointError(
            f"{origin}: no tensor matches the model (file keys look like {next(iter(source))!r}, "
            f"model keys like {next(iter(module.state_dict()), '')!r})"
        )
    # nn.Module's own method: smp's MiT overrides load_state_dict without ``strict``.
    nn.Module.load_state_dict(module, matched, strict=False)
    if report.missing or report.unexpected or report.mismatched:
        log.warning(
            "%s: loaded %d tensors; %d missing, %d unexpected, %d shape-mismatched",
            origin,
            len(matched),
            len(report.missing),
            len(report.unexpected),
            len(report.mismatched),
        )
    return report


def save_weights(
    model: nn.Module, path: str | Path, metadata: Mapping[str, str] | None = None
) -> None:
    """Write the model's state dict as safetensors (each tensor stored on its own), with the
    text ``metadata`` in its header (``read_metadata``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        # Cloning unties shared storage, which safetensors refuses to write.
        tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
        save_file(tensors, str(tmp), metadata=dict(metadata) if metadata else None)
        os.replace(tmp, path)  # never a half-written weights file (a full disk, a kill)
    except SafetensorError as error:  # "... I/O error: No space left on device (os error 28)"
        tmp.unlink(missing_ok=True)
        found = re.search(r"I/O error: (.*) \(os error (\d+)\)", str(error))
        if found:
            raise OSError(int(found.group(2)), found.group(1), str(path)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_metadata(path: str | Path) -> dict[str, str]:
    """The text metadata in a safetensors file's header (empty when it has none)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a valid safetensors file ({one_line(error)})") from None


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load a file written by ``save_weights`` (or an exact state dict); every key must fit."""
    matched, report = match_state_dict(read_state_dict(path), model)
    _require_exact(Path(path), report)
    nn.Module.load_state_dict(model, matched, strict=False)


def _require_exact(path: Path, report: LoadReport) -> None:
    if report.missing or report.unexpected or report.mismatched:
        detail = (report.missing + report.unexpected + report.mismatched)[:3]
        raise CheckpointError(
            f"{path}: does not fit this model ({len(report.missing)} missing, "
            f"{len(report.unexpected)} unexpected, {len(report.mismatched)} mismatched, e.g. {detail})"
        )
