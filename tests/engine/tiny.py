"""Tiny configs for the engine tests: a few steps on 32 px crops (HRDA 64), mit_b0 with embedding 32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixl.config import ExperimentConfig, config_from_dict


def tiny_config_dict(
    root: Path, output_dir: Path, task: str = "uda", model: str = "daformer", **sections: Any
) -> dict[str, Any]:
    """A config of a few steps on 32 px crops (HRDA 64) with an mit_b0 model of embedding 32."""
    base_options = {"encoder": "mit_b0", "embed_dim": 32}
    options = (
        {"base": "daformer", "base_options": base_options, "attention_dim": 16}
        if model == "hrda"
        else base_options
    )
    source = "target_train" if task == "semi" else "source_train"
    crop = [64, 64] if model == "hrda" else [32, 32]  # MiT needs >= 32 px inputs (HRDA halves)
    data: dict[str, Any] = {
        "labelled": {"kind": "digits", "root": str(root), "split": source, "crop_size": crop},
        "val": {"kind": "digits", "root": str(root), "split": "target_val"},
        "rcs": {"enabled": task == "uda", "min_pixels": 20},
    }
    if task == "semi":
        data["labelled"]["subset_file"] = str(root / "splits" / "target_train_1_30.txt")
    if task != "supervised":
        data["unlabelled"] = {
            "kind": "digits",
            "root": str(root),
            "split": "target_train",
            "crop_size": crop,
        }
    config: dict[str, Any] = {
        "name": f"tiny_{task}_{model}",
        "task": task,
        "output_dir": str(output_dir),
        "model": {"name": model, "options": options},
        "data": data,
        "optim": {"warmup_steps": 2},
        "trainer": {
            "max_steps": 3,
            "batch_size": 2,
            "unlabelled_batch_size": 2,
            "accelerator": "cpu",
            "devices": 1,
            "num_workers": 0,
            "log_every": 1,
            "eval_every": 0,
            "checkpoint_every": 0,
            "progress_bar": False,
        },
    }
    for key, value in sections.items():
        config.setdefault(key, {}).update(value)
    return config


def tiny_config(root: Path, output_dir: Path, **options: Any) -> ExperimentConfig:
    return config_from_dict(tiny_config_dict(root, output_dir, **options), source="tiny")
