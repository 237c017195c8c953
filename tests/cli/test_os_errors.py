"""Every operating-system failure is one `error:` line naming the path or device and the cause;
predict never writes over its input and predicts the rest when one image is bad."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import pixl
from evaluation.fakes import fake_config, write_fake_cityscapes, write_weights
from pixl.cli import main
from pixl.errors import DataError, error_line


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("os_errors")
    root = write_fake_cityscapes(base / "cityscapes")
    return {
        "images": root / "leftImg8bit" / "val",
        "weights": write_weights(base / "w", fake_config(root)),
    }


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def predict(setup: dict[str, Path], source: Path, output: Path, *extra: str) -> int:
    args = ["--checkpoint", str(setup["weights"]), "--input", str(source), "--output", str(output)]
    return main(["predict", *args, *extra])


def test_predict_refuses_to_write_over_or_into_its_input(
    setup: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    images = tmp_path / "photos"
    shutil.copytree(setup["images"], images)
    before = {p: p.read_bytes() for p in images.rglob("*") if p.is_file()}
    assert predict(setup, images, images) == 2
    assert "is the --input folder: the predictions would replace the images" in one_line_error(
        capsys
    )
    assert predict(setup, images, images / "out") == 2
    assert "is inside --input" in one_line_error(capsys)
    assert predict(setup, images / "aachen", images) == 2
    assert "is inside --output" in one_line_error(capsys)
    single = next(images.rglob("*.png"))
    assert predict(setup, single, single.parent) == 2
    assert "is the folder of --input" in one_line_error(capsys)
    assert {p: p.read_bytes() for p in images.rglob("*") if p.is_file()} == before
    assert not (images / "out").exists()


def test_predict_reports_a_bad_image_and_predicts_the_rest(
    setup: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    images = tmp_path / "photos"
    shutil.copytree(setup["images"], images)
    bad = images / "aachen" / "broken_leftImg8bit.png"
    bad.write_bytes(b"\x89PNG truncated")
    assert predict(setup, images, tmp_path / "out") == 1
    captured = capsys.readouterr()
    assert "2 trainid predictions written" in captured.out
    assert captured.err.splitlines() == [
        f"problem: {bad}: cannot decode image (corrupt, truncated or not an image)",
        "error: 1 of 3 images failed",
    ]
    assert len(list((tmp_path / "out").rglob("*.png"))) == 2


def test_unusable_outputs_and_devices_are_one_line(
    setup: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert predict(setup, setup["images"], a_file) == 1
    assert one_line_error(capsys) == f"error: {a_file}: File exists"
    assert predict(setup, setup["images"], a_file / "out") == 1
    assert one_line_error(capsys) == f"error: {a_file / 'out'}: Not a directory"
    if not torch.cuda.is_available():
        assert predict(setup, setup["images"], tmp_path / "o", "--device", "cuda") == 2
        assert one_line_error(capsys) == (
            "error: --device cuda: no CUDA device is available here (use cpu)"
        )
    assert predict(setup, setup["images"], tmp_path / "o", "--device", "gpu7") == 2
    assert "--device gpu7: not a device" in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


class Broken(Dataset[int]):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> int:
        raise self.error


@pytest.mark.parametrize("workers", [0, 1])
def test_loader_worker_errors_keep_their_one_line(workers: int, tmp_path: Path) -> None:
    missing = tmp_path / "gone.png"
    for error, expected in [
        (DataError(f"{missing}: file is missing"), f"{missing}: file is missing"),
        (FileNotFoundError(2, "No such file or directory", str(missing)), None),
    ]:
        with pytest.raises(Exception) as caught:
            next(iter(DataLoader(Broken(error), num_workers=workers)))
        line = error_line(caught.value)
        assert line == (expected or f"{missing}: No such file or directory")


def test_a_full_disk_during_a_checkpoint_or_weights_write_names_the_file(tmp_path: Path) -> None:
    # A file-size limit makes the write fail midway like a full disk (EFBIG instead of ENOSPC).
    script = textwrap.dedent(
        f"""
        import resource, signal, sys, torch
        from pixl.engine.checkpoint import atomic_save
        from pixl.errors import error_line
        from pixl.models.weights import save_weights
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            atomic_save({{"w": torch.zeros(1_000_000)}}, {str(tmp_path / "step.pt")!r})
        except OSError as error:
            print(error_line(error))
        try:
            save_weights(torch.nn.Linear(1000, 1000), {str(tmp_path / "model.safetensors")!r})
        except OSError as error:
            print(error_line(error))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(pixl.__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.stdout.splitlines() == [
        f"{tmp_path / 'step.pt'}: File too large",
        f"{tmp_path / 'model.safetensors'}: File too large",
    ], done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []  # no temp file, no half-written checkpoint


def test_eval_on_a_missing_accelerator_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    root = write_fake_cityscapes(tmp_path / "cityscapes")
    weights = write_weights(tmp_path / "export", fake_config(root))
    config = weights.with_name("config.yaml")
    code = main(["eval", str(config), "--checkpoint", str(weights), "--accelerator", "cuda"])
    assert code == 2
    assert one_line_error(capsys).startswith("error: --accelerator cuda --devices 1: cannot run")
