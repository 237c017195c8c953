"""Reading, overriding, validating and writing experiment configs.

Errors are one line naming the file and the dotted key, with the valid keys or choices:
``configs/x.yaml: unknown key 'pixl.temprature' (valid: enabled, adaptive_selection, ...)``.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pixl.config.schema import ExperimentConfig
from pixl.errors import ConfigError, one_line


def packaged_config(name: str) -> Path:
    """A config shipped inside the package, e.g. ``digits/uda_pixl`` (``.yaml`` optional)."""
    relative = name if name.endswith(".yaml") else f"{name}.yaml"
    path = Path(str(resources.files("pixl").joinpath("configs", relative)))
    if not path.is_file():
        shipped = ", ".join(list_packaged_configs())
        raise ConfigError(f"{name}: no such shipped config (shipped: {shipped})")
    return path


def list_packaged_configs() -> list[str]:
    """Names of the shipped configs (``folder/stem``)."""
    root = Path(str(resources.files("pixl").joinpath("configs")))
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read a YAML config, apply ``key.sub=value`` overrides, validate; ``name`` defaults to the stem.

    ``path`` may also name a shipped config (``digits/uda_pixl``) when no such file exists.
    """
    path = Path(path)
    if not path.is_file():
        if path.is_absolute() or path.suffix not in ("", ".yaml"):
            raise ConfigError(f"{path}: config file not found")
        try:
            path = packaged_config(str(path))
        except ConfigError:
            raise ConfigError(f"{path}: config file not found (nor a shipped config)") from None
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({one_line(error)})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    return config_from_dict(apply_overrides(raw, overrides), source=str(path))


def config_from_dict(data: Mapping[str, Any], source: str = "config") -> ExperimentConfig:
    """Validate plain data into an ``ExperimentConfig``; errors name ``source`` and the key."""
    try:
        return ExperimentConfig.model_validate(dict(data))
    except ValidationError as error:
        raise ConfigError(f"{source}: {describe_error(error)}") from None


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Set ``a.b.c=value`` items (value parsed as YAML) into a copy of ``data``; keys are checked."""
    result = _deep_copy(data)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}': expected key.sub=value")
        parts = key.strip().split(".")
        _check_key_path(parts, item)
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return result


def resolve_paths(config: ExperimentConfig, base: str | Path | None = None) -> ExperimentConfig:
    """A copy of ``config`` whose relative paths are made absolute against ``base`` (default: the
    working directory): ``output_dir``, every ``data.*.root``, a ``subset_file`` that is a file,
    ``model.init_from`` and a local ``model.options.encoder_weights`` file.

    A run resolves them once, when it starts, and saves them resolved in ``RUN/config.yaml``, so
    resuming, evaluating or predicting from any other directory finds the same folders.
    """
    base = Path.cwd() if base is None else Path(base)

    def absolute(path: str) -> str:
        return str((base / Path(path).expanduser()).resolve())

    resolved = config.model_copy(deep=True)
    resolved.output_dir = absolute(config.output_dir)
    for spec in (resolved.data.labelled, resolved.data.unlabelled, resolved.data.val):
        if spec is None:
            continue
        spec.root = absolute(spec.root)
        if spec.subset_file is not None and (base / spec.subset_file).is_file():
            spec.subset_file = absolute(spec.subset_file)
    if resolved.model.init_from is not None:
        resolved.model.init_from = absolute(resolved.model.init_from)
    resolved.model.options = _absolute_weight_files(resolved.model.options, base)
    return resolved


def _absolute_weight_files(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """``encoder_weights`` (also inside HRDA's ``base_options``) made absolute when it names a
    file here; a hub tag such as ``imagenet`` stays as it is."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, dict):
            value = _absolute_weight_files(value, base)
        elif key == "encoder_weights" and isinstance(value, str):
            path = (base / Path(value).expanduser()).resolve()
            value = str(path) if path.is_file() else value
        out[key] = value
    return out


def save_config(config: ExperimentConfig, path: str | Path) -> Path:
    """Write the resolved config (every default filled in) as YAML."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(config_to_yaml(config))
    os.replace(tmp, path)  # never a half-written config.yaml
    return path


def config_to_yaml(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def describe_error(error: ValidationError) -> str:
    """The first validation problem as one line: dotted key, what was expected, what was given."""
    first = error.errors()[0]
    loc = _schema_loc([str(part) for part in first["loc"]])
    key = ".".join(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        valid = _valid_keys(loc[:-1])
        return f"unknown key '{key}' (valid: {', '.join(valid)})"
    if kind == "literal_error":
        choices = _literal_choices(loc)
        return f"{key}: expected one of {', '.join(choices)}; got {first['input']!r}"
    if kind == "missing":
        return f"missing key '{key}'"
    message = first["msg"].removeprefix("Value error, ")
    if not key:
        return message
    return f"{key}: {message}; got {first.get('input')!r}"


def _schema_loc(loc: Sequence[str]) -> list[str]:
    """Drop pydantic's union-member tags from an error location, keeping real keys."""
    kept: list[str] = []
    cls: type[BaseModel] | None = ExperimentConfig
    for part in loc:
        if cls is None:
            kept.append(part)  # inside a free-form mapping (e.g. model.options) or a list index
            continue
        field = cls.model_fields.get(part)
        if field is None and part in _tags_of(cls):
            continue
        kept.append(part)
        cls = _model_in(field.annotation) if field is not None else None
    return kept


def _tags_of(cls: type[BaseModel]) -> set[str]:
    return {"function-after", "function-before", "int", "str", "none"} | {
        f"literal[{arg!r}]"
        for f in cls.model_fields.values()
        for arg in _literal_args(f.annotation)
    }


def _section_at(parts: Sequence[str]) -> type[BaseModel] | None:
    """The schema class at a dotted path of sections, or None when the path leaves the schema."""
    cls: type[BaseModel] = ExperimentConfig
    for part in parts:
        field = cls.model_fields.get(part)
        if field is None:
            return None
        nested = _model_in(field.annotation)
        if nested is None:
            return None
        cls = nested
    return cls


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _valid_keys(parts: Sequence[str]) -> list[str]:
    cls = _section_at(parts)
    return list(cls.model_fields) if cls is not None else []


def _literal_choices(loc: Sequence[str]) -> list[str]:
    cls = _section_at(loc[:-1])
    field = cls.model_fields.get(loc[-1]) if cls is not None else None
    return [str(c) for c in _literal_args(field.annotation)] if field is not None else []


def _literal_args(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [c for arg in typing.get_args(annotation) for c in _literal_args(arg)]


def _check_key_path(parts: list[str], item: str) -> None:
    """Reject override keys the schema does not have (free-form dicts such as model.options pass)."""
    cls: type[BaseModel] = ExperimentConfig
    for depth, part in enumerate(parts):
        field = cls.model_fields.get(part)
        if field is None:
            dotted = ".".join(parts[: depth + 1])
            valid = ", ".join(cls.model_fields)
            raise ConfigError(f"override '{item}': unknown key '{dotted}' (valid: {valid})")
        nested = _model_in(field.annotation)
        if nested is None:
            return
        cls = nested


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}
