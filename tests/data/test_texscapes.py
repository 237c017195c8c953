"""TexScapes: deterministic generation, the paper's regime of cell purity, the shared machinery."""

from pathlib import Path

import numpy as np
import pytest

from pixl.core import IGNORE_INDEX
from pixl.data.kinds import dataset_info, is_prepared
from pixl.data.synthetic import cell_purity
from pixl.data.texscapes import TEXSCAPES_CLASSES, generate_texscapes, render_scene

TINY = {"source_train": 3, "target_train": 4, "target_val": 2}


def test_cell_purity_on_a_hand_made_frame():
    label = np.zeros((8, 8), np.uint8)  # four 4x4 cells
    label[0:4, 4:8] = 1  # top right: pure class 1
    label[4:8, 0:2] = 2  # bottom left: half 0, half 2 -> not pure
    label[4:8, 4:8] = IGNORE_INDEX
    label[4, 4:7] = 3  # bottom right: 3 of 16 pixels class 3, the rest ignored -> labelled, impure
    assert cell_purity(label) == (2, 4)
    label[4:8, 0] = 0  # bottom left: 12 of 16 pixels class 0 -> exactly 75 %: pure
    assert cell_purity(label) == (3, 4)
    label[4:8, 4:8] = IGNORE_INDEX  # an all-ignored cell is not labelled
    assert cell_purity(label) == (3, 3)


def test_generation_is_deterministic(tmp_path: Path):
    generate_texscapes(tmp_path / "a", seed=5, sizes=TINY, image_size=64)
    generate_texscapes(tmp_path / "b", seed=5, sizes=TINY, image_size=64, workers=2)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files) == 2 * sum(TINY.values())
    assert all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files
    )
    assert is_prepared("texscapes", tmp_path / "a")


def test_scenes_hold_stuff_and_things_with_pure_cells():
    rng = np.random.default_rng(0)
    seen: set[int] = set()
    pure = labelled = 0
    for domain in ("synth", "photo"):
        for _ in range(12):
            image, label = render_scene(domain, rng)
            assert image.shape == (256, 256, 3) and label.shape == (256, 256)
            assert label.max() < len(TEXSCAPES_CLASSES)
            seen |= set(np.unique(label).tolist())
            p, n = cell_purity(label)
            pure, labelled = pure + p, labelled + n
    assert seen >= {0, 1, 2, 6, 7, 8, 10}  # sky, road, building and the common things
    assert pure / labelled >= 0.9


@pytest.mark.parametrize("domain", ["synth", "photo"])
def test_domains_differ_in_look(domain):
    image, _ = render_scene(domain, np.random.default_rng(1))
    noise = np.abs(np.diff(image.astype(float), axis=1)).mean()
    # photo frames carry sensor noise and full texture detail; synth frames are posterised
    assert (noise > 6) if domain == "photo" else (noise < 12)


def test_kind_is_registered():
    info = dataset_info("texscapes")
    assert info.class_names == TEXSCAPES_CLASSES and len(info.palette) == info.num_classes
