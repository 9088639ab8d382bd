"""The ``merge-engine`` command: a thin layer over the public Python API.

Each command parses its arguments, calls one library function and maps
:class:`MergeEngineError` to exit code 2 with a one-line message. Logs go
to stderr (this is an application, so it configures structlog; the
library never does).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from ..exceptions import MergeEngineError
from . import _database, _demo, _planning, _report, _review, _show

__all__ = ["EXIT_INPUT", "main"]

EXIT_INPUT = 2


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def _configure_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Look sys.stderr up at each call: a stream bound once goes stale when a
        # caller (a test runner, a notebook) swaps or closes it.
        logger_factory=_stderr_logger,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="merge-engine",
        description="Merge archived students into the students a roster sync created.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    _planning.register(sub)  # plan, audit, load
    _database.register(sub)  # apply, undo, history
    _show.register(sub)
    _review.register(sub)
    _report.register(sub)
    _demo.register(sub)  # sample, demo
    _planning.register_settings(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        code: int = args.func(args)
    except MergeEngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return code
