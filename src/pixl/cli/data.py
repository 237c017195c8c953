"""``pixl data prepare KIND ROOT [--workers N] [--seed S]``; the kinds come from ``pixl.data.kinds``.

The kinds are read when the arguments are checked or the help is shown, not when the parser is
built: ``pixl --help`` and the other commands do not pay for importing the data layer (torch).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator


class _KindNames:
    """The dataset kind names as argparse ``choices``, looked up on first use."""

    @staticmethod
    def _names() -> tuple[str, ...]:
        from pixl.data.kinds import KINDS

        return KINDS

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


class _PrepareParser(argparse.ArgumentParser):
    """Lists each kind with its one-line summary at the end of the help."""

    def format_help(self) -> str:
        from pixl.data.kinds import KIND_REGISTRY

        kinds = "\n".join(f"  {k.name:<11} {k.summary}" for k in KIND_REGISTRY.values())
        return f"{super().format_help()}\nkinds:\n{kinds}\n"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="prepare datasets", description="Dataset tools.")
    actions = parser.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_PrepareParser
    )
    prepare = actions.add_parser(
        "prepare",
        help="check a dataset, convert its labels to train ids, count classes for RCS",
        description=(
            "Check the layout, write train-id labels once where a kind needs converting "
            "(re-runs skip finished files) and the class statistics JSON."
        ),
    )
    prepare.add_argument("kind", choices=_KindNames(), metavar="KIND", help="see 'kinds' below")
    prepare.add_argument("root", help="the dataset folder (for digits: where to write it)")
    prepare.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    prepare.add_argument("--seed", type=int, default=0, help="DigitScenes generation seed")
    prepare.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    prepare.add_argument(
        "--strict",
        action="store_true",
        help="label ids outside the table, label/image size mismatches and images without a "
        "label are problems (default: mapped to ignore, resized, left out; each warned)",
    )
    prepare.set_defaults(handler=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from pixl.data import prepare_dataset

    report = prepare_dataset(
        args.kind,
        args.root,
        workers=args.workers,
        seed=args.seed,
        progress=not args.no_progress,
        strict=args.strict,
    )
    done = (
        f"{report.checked} images checked"
        if report.checked
        else f"{report.converted} written, {report.skipped} already done"
    )
    print(
        f"{report.kind} at {report.root}: {done}, {len(report.problems)} problems "
        f"({report.seconds:.1f} s)"
    )
    for path in report.stats_files:
        print(f"class statistics: {path}")
    for note in report.notes:
        print(f"cell purity: {note}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 0 if report.ok else 1
