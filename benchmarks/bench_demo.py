"""The demo's claim: on DigitScenes target val, UDA + PiXL beats source-only with the same budget.

Runs ``pixl demo --compare`` (prepares DigitScenes if missing, trains both shipped configs,
evaluates) and prints both mIoUs and the wall times. Usage::

    .venv/bin/python benchmarks/bench_demo.py [--root data/digits] [--output-dir runs/bench_demo]
"""

from __future__ import annotations

import argparse
import time

from pixl.engine.demo import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="data/digits")
    parser.add_argument("--output-dir", default="runs/bench_demo")
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    result = run_demo(args.root, args.output_dir, steps=args.steps, compare=True, progress=False)
    assert result.uda.report is not None and result.source_only is not None
    assert result.source_only.report is not None
    uda, source = result.uda, result.source_only
    print(f"UDA + PiXL     target-val mIoU {100 * uda.report.miou:6.2f}  ({uda.seconds:.0f} s)")
    print(
        f"source-only    target-val mIoU {100 * source.report.miou:6.2f}  ({source.seconds:.0f} s)"
    )
    print(f"total wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
