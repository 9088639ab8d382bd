"""The ``merge-engine`` command: a thin layer over the public Python API.

Each command parses its arguments and calls library functions. Whatever
goes wrong ends in one line on stderr, never a traceback (``-v`` adds it):
:class:`MergeEngineError` and file errors exit 2 with their message, a closed
pipe (``| head``) exits 141 quietly, anything unexpected exits 2. Logs go to
stderr (this is an application, so it configures structlog; the library
never does).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import structlog

from .. import __version__
from ..exceptions import MergeEngineError
from . import _database, _demo, _many, _planning, _report, _review, _show

__all__ = ["EXIT_INPUT", "EXIT_PIPE", "main"]

#: Bad input, a refusal by the safety valve, or any error: nothing (more) was done.
EXIT_INPUT = 2
#: stdout was closed by the reader (``| head``): 128 + SIGPIPE, as a shell reports a
#: command that a closed pipe ended.
EXIT_PIPE = 141
EXIT_INTERRUPTED = 130


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = (
        logging.ERROR
        if quiet
        else logging.DEBUG
        if verbose > 1
        else logging.INFO
        if verbose
        else logging.WARNING
    )
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


def _output_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v, --quiet and --no-progress, accepted before and after the command.

    On a command's parser the defaults are SUPPRESS, so that an option given
    before the command is not reset by the command's parser.
    """
    unset: Any = argparse.SUPPRESS
    group = parser.add_argument_group("output options")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else unset,
        help="log what happens to stderr (-vv: debug), and show the traceback of an "
        "unexpected error",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if top else unset,
        help="log only errors and draw no progress bar",
    )
    group.add_argument(
        "--no-progress",
        action="store_true",
        default=False if top else unset,
        help="draw no progress bar (one is drawn on stderr only when it is a terminal)",
    )


def _commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every command's parser, sub-commands included (``review export``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                yield command
                yield from _commands(command)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="merge-engine",
        description="Merge archived students into the students a roster sync created.",
        epilog="exit codes: 0 done; 1 done, but some merges were refused (stale, conflict, "
        "failed); 2 bad input, refused by the safety valve, or an error; 141 the reader "
        "closed the output (| head). See docs/cli.md.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do (COMMAND -h for more)"
    )
    _planning.register(sub)  # plan, audit, load
    _database.register(sub)  # apply, undo, history
    _many.register(sub)  # plan-many, apply-many
    _show.register(sub)
    _review.register(sub)
    _report.register(sub)
    _demo.register(sub)  # sample, demo
    _planning.register_settings(sub)
    _output_options(parser, top=True)
    for command in _commands(parser):
        _output_options(command, top=False)
    return parser


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass  # not a real file (a test's capture): nothing is flushed at exit


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE
    except MergeEngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # a file or folder that cannot be read or written
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        # Where, not the message: a third-party message may quote a roster's cell.
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(
            f"error: unexpected {type(exc).__name__} at {os.path.basename(where.filename)}:"
            f"{where.lineno} (a bug: please report it); run with -v for details",
            file=sys.stderr,
        )
        return EXIT_INPUT
    return code
