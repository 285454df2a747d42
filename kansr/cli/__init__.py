"""Command line interface: ``kansr <command> [options]`` (also ``python -m kansr``).

Every subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its parser and
``_run_<name>(args) -> int`` does the work. To add one, write both and list the first in
:data:`_COMMANDS`; :func:`main` handles usage errors (exit code 2) and runtime errors (exit
code 1, one line on stderr, no traceback).

The package holds one module per command (``_demo``, ``_fit``, ``_predict``) and what they
share (``_common``: :class:`UsageError`, argparse types, CSV reading).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from kansr._version import __version__
from kansr.cli._common import PROG, UsageError
from kansr.cli._demo import _add_demo
from kansr.cli._fit import _add_fit
from kansr.cli._predict import _add_predict

__all__ = ["main"]

_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_demo,
    _add_fit,
    _add_predict,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Symbolic regression with Kolmogorov-Arnold Networks.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    0: success; 1: the command failed; 2: usage error (the message goes to stderr).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (try '{PROG} --help')", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # any failure: one line on stderr, no traceback
        print(f"{PROG} {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
