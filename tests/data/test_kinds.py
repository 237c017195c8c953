"""Each dataset kind is described once (pixl.data.kinds); config, CLI and loaders read it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixl.cli import build_parser
from pixl.config import config_from_dict
from pixl.config.kinds import dataset_kinds
from pixl.data import KINDS, build_dataset, dataset_info, get_kind
from pixl.errors import ConfigError, DataError

DATA = Path(__file__).resolve().parents[2] / "src" / "pixl" / "data"


def _spec(kind: str) -> dict:
    return {"kind": kind, "root": "/nowhere", "split": "train"}


def test_every_kind_is_registered_with_the_config_and_offered_by_the_cli():
    assert tuple(dataset_kinds()) == KINDS
    parser = build_parser()
    for kind in KINDS:
        args = parser.parse_args(["data", "prepare", kind, "/tmp/x"])
        assert args.kind == kind
        config = config_from_dict(
            {
                "name": "n",
                "task": "supervised",
                "data": {"labelled": _spec(kind), "val": _spec(kind)},
            }
        )
        assert config.data.labelled.kind == kind


def test_an_unknown_kind_is_one_line_naming_the_key_or_the_kind():
    data = {
        "name": "n",
        "task": "supervised",
        "data": {"labelled": _spec("kitti"), "val": _spec("gta5")},
    }
    with pytest.raises(ConfigError, match=r"^x\.yaml: data\.labelled\.kind: expected one of "):
        config_from_dict(data, source="x.yaml")
    with pytest.raises(
        DataError, match=r"dataset kind 'kitti' is unknown; expected one of cityscapes"
    ):
        build_dataset("kitti", "/nowhere", "train", train=False, crop_size=None, resize=None)
    with pytest.raises(DataError, match="expected one of"):
        dataset_info("kitti")


def test_descriptors_carry_what_the_old_tables_did():
    synthia = dataset_info("synthia")
    assert synthia.num_classes == 19 and set(synthia.eval_subsets) == {"mIoU16", "mIoU13"}
    assert len(synthia.eval_subsets["mIoU13"]) == 13 and len(synthia.eval_subsets["mIoU16"]) == 16
    assert dataset_info("gta5").class_names == dataset_info("cityscapes").class_names
    assert dataset_info("digits").num_classes == 11 and dataset_info("digits").thing_classes[0] == 1
    cityscapes = get_kind("cityscapes")
    assert cityscapes.prepare_splits == ("train", "val") and "test" in cityscapes.splits
    table = cityscapes.label_table
    assert table is not None and table[7] == 0 and table[0] == 255  # road; unlabeled is void
    with pytest.raises(DataError, match="has no split 'val'"):
        get_kind("gta5").check_split("val")


def _function_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pixl.data"):
                    found.append(f"{path.name}:{node.lineno} {node.module}")
    return found


def test_no_data_module_hides_an_import_of_another_inside_a_function():
    """The digits <-> prepare cycle was hidden this way; the modules now form a DAG."""
    hidden = [hit for path in sorted(DATA.glob("*.py")) for hit in _function_level_imports(path)]
    assert hidden == []


def _data_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.module.split(".")[2]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pixl.data.")
    }


def test_data_modules_form_no_import_cycle():
    graph = {p.stem: _data_imports(p) for p in DATA.glob("*.py") if p.stem != "__init__"}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for target in graph.get(module, ()):
            visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


@pytest.mark.slow
def test_a_fresh_pixl_train_checks_the_kind_as_a_config_key(tmp_path: Path) -> None:
    """In a new process (nothing imported yet) the CLI still registers the kinds before it
    validates a config, so a typo names the key instead of failing later in the data layer."""
    env = {**os.environ, "PYTHONPATH": str(DATA.parents[1])}
    argv = ["train", "folder/supervised", "data.labelled.kind=kitti"]
    result = subprocess.run(
        [sys.executable, "-m", "pixl.cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "data.labelled.kind: expected one of cityscapes, gta5, synthia, digits, texscapes, folder; "
        "got 'kitti'"
    )
    assert "\n" not in result.stderr.strip()
