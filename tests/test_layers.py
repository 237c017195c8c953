"""The one-way layers of docs/design.md, "Layers", checked on the import statements of every source file."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "pixl"
# Lowest first: a layer may import itself and the layers before it, never those after it.
LAYERS = ("config", "core", "data", "models", "visualization", "evaluation", "engine", "cli")
SHARED = {"errors"}  # below every layer; core stays free of it (core imports torch only)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "pixl" or len(parts) == 1:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _source_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", _source_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_downwards(path: Path):
    relative = path.relative_to(SRC)
    own = relative.parts[0] if len(relative.parts) > 1 else relative.stem
    for module, line in _imports(path):
        target = _layer(module)
        if target is None or own not in LAYERS:
            continue
        where = f"{relative}:{line} imports {module}"
        if target in SHARED:
            assert own != "core", f"{where}: pixl.core imports torch only"
            continue
        assert target in LAYERS, f"{where}: unknown layer {target!r}"
        assert LAYERS.index(target) <= LAYERS.index(own), f"{where}: {own} may not import {target}"


def test_core_imports_torch_and_the_standard_library_only():
    for path in sorted((SRC / "core").rglob("*.py")):
        for module, line in _imports(path):
            top = module.split(".")[0]
            allowed = top in ("torch", "__future__") or top in sys.stdlib_module_names
            allowed = allowed or module.startswith("pixl.core")
            assert allowed, f"core/{path.name}:{line} imports {module}"


def test_every_layer_exists():
    present = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert {
        "core",
        "config",
        "data",
        "models",
        "engine",
        "evaluation",
        "visualization",
        "cli",
    } <= present


ENGINE_FILES = sorted((SRC / "engine").rglob("*.py"))
# What asking a model for its kind looks like: method probes and HRDA's own attributes.
MODEL_PROBES = ("hasattr(", "is_multi_resolution", "detail_crop", "context_input", "base_options")


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_the_engine_never_imports_a_model_kind(path: Path):
    for module, line in _imports(path):
        assert not module.startswith("pixl.models.hrda"), (
            f"{path.relative_to(SRC)}:{line} imports {module}: the engine runs every model "
            "through forward_train and never needs HRDA itself"
        )
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pixl"):
            names = {alias.name for alias in node.names}
            assert "HRDA" not in names and "hrda" not in names, (
                f"{path.relative_to(SRC)}:{node.lineno} imports HRDA from {node.module}"
            )


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_the_engine_never_probes_what_a_model_is(path: Path):
    text = path.read_text()
    for probe in MODEL_PROBES:
        assert probe not in text, f"{path.relative_to(SRC)} contains {probe!r}"
    tree = ast.parse(text, filename=str(path))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
        ):
            kinds = ast.unparse(node.args[1])
            assert "model" not in kinds.lower() and "Segmentor" not in kinds, (
                f"{path.relative_to(SRC)}:{node.lineno} isinstance(..., {kinds})"
            )


BENCHMARKS = SRC.parents[1] / "benchmarks"
OUTSIDE_TRAINER = sorted(
    [p for p in _source_files() if p != SRC / "engine" / "trainer.py"]
    + list(BENCHMARKS.rglob("*.py"))
)


@pytest.mark.parametrize("path", OUTSIDE_TRAINER, ids=lambda p: p.name)
def test_nothing_outside_the_trainer_touches_its_private_attributes(path: Path):
    """The run's pieces are public (``build_run``, ``train_step``); a module that needs one uses
    them, never ``trainer._something``."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and "trainer" in ast.unparse(node.value).lower()
        ):
            raise AssertionError(f"{path}:{node.lineno} touches {ast.unparse(node)}")
