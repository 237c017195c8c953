"""Config-driven pieces: subsets for SYNTHIA models, inference settings, full-size labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pixl.config import config_from_dict
from pixl.data import dataset_info
from pixl.data.io import read_train_ids
from pixl.errors import ConfigError
from pixl.evaluation.runner import (
    InferenceSettings,
    eval_dataset,
    eval_loader,
    eval_subsets,
    evaluate_config,
)

from .fakes import SIZE, PatchSegmentor, fake_config, write_fake_cityscapes


def _uda_config(source: str):
    spec = {"kind": "cityscapes", "root": "x", "split": "val"}
    return config_from_dict(
        {
            "name": "uda",
            "task": "uda",
            "data": {
                "labelled": {"kind": source, "root": "s", "split": "train"},
                "unlabelled": {**spec, "split": "train"},
                "val": spec,
            },
        }
    )


def test_synthia_trained_models_get_miou16_and_miou13() -> None:
    subsets = eval_subsets(_uda_config("synthia"))
    assert subsets == dataset_info("synthia").eval_subsets
    assert len(subsets["mIoU16"]) == 16 and len(subsets["mIoU13"]) == 13
    assert eval_subsets(_uda_config("gta5")) == {}


def test_inference_settings() -> None:
    config = fake_config(Path("x"), window=[32, 32])
    assert InferenceSettings.from_config(config) == InferenceSettings("whole", (32, 32), None)
    assert InferenceSettings.from_config(config, "slide").mode == "slide"
    with pytest.raises(ConfigError, match=r"eval\.window"):
        InferenceSettings.from_config(fake_config(Path("x")), "slide")
    with pytest.raises(ConfigError, match="'whole' or 'slide'"):
        InferenceSettings.from_config(config, "tiles")


def test_eval_dataset_keeps_full_size_labels(tmp_path: Path) -> None:
    root = write_fake_cityscapes(tmp_path)
    dataset = eval_dataset(fake_config(root, resize=(32, 64)).data.val)
    sample = dataset[0]
    assert tuple(sample["image"].shape) == (3, 32, 64)
    assert tuple(sample["label"].shape) == SIZE
    on_disk = read_train_ids(dataset.dataset.records[0].label)
    assert torch.equal(sample["label"], torch.from_numpy(on_disk.astype(np.int64)))


def test_evaluation_never_draws_from_the_global_rng(tmp_path: Path) -> None:
    """A run evaluates between steps; its random streams must not move (resume stays exact)."""
    root = write_fake_cityscapes(tmp_path)
    config = fake_config(root)
    loader = eval_loader(config)
    model = PatchSegmentor(19)  # seeds the global RNG itself: made before the state is read
    torch.manual_seed(5)
    before = torch.get_rng_state()
    first = evaluate_config(model, config, source="m", loader=loader)
    again = evaluate_config(model, config, source="m")  # its own loader
    assert torch.equal(torch.get_rng_state(), before)
    assert first.confusion == again.confusion and first.num_images == 2
