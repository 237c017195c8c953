"""The benchmarks' result files: the shared writer, and the hand-written index that links them."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
# Plain import: a file of this repository that fails to import must fail the test, not skip it.
import results

BENCHMARKS = results.BENCHMARKS


def write(tmp_path: Path, name: str = "texscapes", **kwargs) -> Path:
    sections = [("Source-only and UDA", "| a | b |\n|---|---|\n| 1 | 2 |"), ("Oracle", "3 %")]
    return results.write_result(name, sections, directory=tmp_path / "results", **kwargs)


def test_the_writer_puts_the_measured_header_then_the_sections(tmp_path):
    path = write(tmp_path, title="TexScapes")
    text = path.read_text()
    assert path == tmp_path / "results" / "texscapes.md"
    assert text.startswith("# TexScapes\n")
    header = dict(re.findall(r"^- ([^:]+): (.*)$", text, flags=re.M))
    assert sys.argv[0] in header["command"] and sys.executable in header["command"]
    assert header["date"].startswith(f"{results.STARTED:%Y-%m-%d %H:%M} UTC")
    assert re.match(r"[0-9a-f]{40}|unknown", header["git commit"])
    assert f"{torch.get_num_threads()} torch threads" in header["machine"]
    assert header["torch"] == torch.__version__
    assert re.fullmatch(
        r"\d+\.\d\d, \d+\.\d\d, \d+\.\d\d", header["load average at start (1, 5, 15 min)"]
    )
    assert text.index("## Source-only and UDA") < text.index("| 1 | 2 |") < text.index("## Oracle")


def test_the_command_shows_the_thread_variables_that_were_set(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert results.command_line().startswith("OMP_NUM_THREADS=2 ")
    assert "MKL_NUM_THREADS" not in results.command_line()


def test_a_rerun_rewrites_the_whole_file(tmp_path):
    write(tmp_path)
    path = results.write_result("texscapes", [("Only", "new")], directory=tmp_path / "results")
    text = path.read_text()
    assert "## Only" in text and "Oracle" not in text and text.count("- command:") == 1


def test_a_quick_run_writes_its_own_file(tmp_path):
    full = write(tmp_path).read_text()
    quick = write(tmp_path, quick=True)
    assert quick.name == "texscapes.quick.md" and "(quick run)" in quick.read_text()
    assert (tmp_path / "results" / "texscapes.md").read_text() == full


def test_the_writer_never_touches_the_hand_written_reading(tmp_path):
    reading = tmp_path / "RESULTS.md"
    reading.write_text("hand-written\n")
    write(tmp_path)
    for name in ("RESULTS", "../RESULTS", "a/b", "data.md", ""):
        with pytest.raises(ValueError, match="result name"):
            results.write_result(name, [("x", "y")], directory=tmp_path / "results")
    assert reading.read_text() == "hand-written\n"
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["texscapes.md"]


def links(path: Path) -> list[Path]:
    """The local files a Markdown file links (``[text](target)``), resolved from its folder."""
    targets = re.findall(r"\]\(([^)#\s]+)\)", path.read_text())
    return [(path.parent / t).resolve() for t in targets if "://" not in t]


def test_the_reading_links_only_files_that_exist_and_every_result():
    index = BENCHMARKS / "RESULTS.md"
    readings = sorted((BENCHMARKS / "readings").glob("*.md"))
    for page in [index, *readings, *sorted((BENCHMARKS / "results").glob("*.md"))]:
        missing = [str(t) for t in links(page) if not t.exists()]
        assert not missing, f"{page.name} links missing files: {missing}"
    linked = set(links(index))
    unlinked = [p.name for p in (BENCHMARKS / "results").glob("*.md") if p.resolve() not in linked]
    assert not unlinked, f"RESULTS.md links no reading of {unlinked}"
    assert all(r.resolve() in linked for r in readings)


def test_no_generator_reprints_a_fixed_account_of_its_machine():
    fixed = re.compile(
        r"lent to this|load about|shared with other jobs|GB shared|on two cores, one"
    )
    scripts = [*BENCHMARKS.glob("*.py"), *(BENCHMARKS / "ablations").glob("*.py")]
    offenders = [p.name for p in scripts if fixed.search(p.read_text())]
    assert not offenders
