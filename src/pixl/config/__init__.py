"""Typed experiment configuration: schema, YAML loading, dotted overrides."""

from pixl.config.io import (
    apply_overrides,
    config_from_dict,
    config_to_yaml,
    describe_error,
    list_packaged_configs,
    load_config,
    packaged_config,
    resolve_paths,
    save_config,
)
from pixl.config.schema import ExperimentConfig

__all__ = [
    "ExperimentConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_yaml",
    "describe_error",
    "list_packaged_configs",
    "load_config",
    "packaged_config",
    "resolve_paths",
    "save_config",
]
