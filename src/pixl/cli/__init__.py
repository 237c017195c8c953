"""The `pixl` command line: parse, call, report. No logic lives here.

Each sub-command is a module of this package with ``register(subparsers)``; the module's handler
returns an exit code. A user error (``PixlError``) is printed as one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pixl.errors import PixlError, RunInterrupted, error_line

# Sub-command modules, in the order `pixl --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "pixl.cli.data",
    "pixl.cli.train",
    "pixl.cli.check",
    "pixl.cli.demo",
    "pixl.cli.evaluate",
    "pixl.cli.predict",
    "pixl.cli.visualize",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixl", description="Pixel learning for segmentation.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; ``key=value`` overrides may also follow the options (``--resume auto k=v``).

    argparse alone stops collecting a ``nargs="*"`` positional at the first option, so overrides
    written after an option are picked up here for the commands that take them.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    overrides = [item for item in extra if "=" in item and not item.startswith("-")]
    if hasattr(args, "overrides") and len(overrides) == len(extra):
        args.overrides = [*args.overrides, *overrides]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except RunInterrupted as error:
        if error.rank == 0:
            print(str(error), file=sys.stderr)
        return error.exit_code
    except PixlError as error:
        print(f"error: {error_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
