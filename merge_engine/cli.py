"""The ``merge-engine`` command: a thin layer over the public Python API.

Each command parses its arguments, calls one library function and maps
:class:`MergeEngineError` to exit code 2 with a one-line message. Logs go
to stderr (this is an application, so it configures structlog; the
library never does).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import structlog

from .exceptions import MergeEngineError
from .plan import MergePlan
from .planner import build_plan
from .readers import read_roster
from .settings import Settings

__all__ = ["main"]

EXIT_INPUT = 2


def _configure_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def _settings(path: str | None) -> Settings:
    return Settings.from_file(path) if path else Settings()


def _cmd_plan(args: argparse.Namespace) -> int:
    settings = _settings(args.settings)
    archived = read_roster(
        args.archived, format=args.archived_format, fallback_encoding=args.encoding_fallback
    )
    synced = read_roster(
        args.synced, format=args.synced_format, fallback_encoding=args.encoding_fallback
    )
    plan = build_plan(archived, synced, settings)
    plan.write(args.out)
    _print_summary(plan, args.out)
    return 0


def _print_summary(plan: MergePlan, out: str | Path) -> None:
    s = plan.stats
    print(f"{plan!r}")
    print(
        f"compared {s.get('pairs_compared', 0):,} of {s.get('pairs_possible', 0):,} "
        "possible pairs; "
        f"plan written to {out}"
    )
    if plan.warnings:
        print(f"{len(plan.warnings)} input warnings are listed in the plan under 'warnings'.")
    if plan.review:
        print(
            f"Review the {len(plan.review)} merges marked 'review' before applying: "
            f"merge-engine show {out} --review"
        )


def _cmd_show(args: argparse.Namespace) -> int:
    plan = MergePlan.read(args.plan)
    merges = plan.review if args.review else plan.merges
    if args.id:
        merges = tuple(m for m in merges if args.id in (m.archived_id, m.synced_id))
    print(repr(plan))
    for merge in merges[: args.limit]:
        print(merge.explain())
    if len(merges) > args.limit:
        print(f"... {len(merges) - args.limit} more (use --limit)")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    source = resources.files("merge_engine") / "data" / "sample"
    target = Path(args.out)
    for side in ("archived", "synced"):
        with resources.as_file(source / side) as folder:
            shutil.copytree(folder, target / side, dirs_exist_ok=True)
    print(f"sample district written to {target}/archived and {target}/synced")
    print(
        f"next: merge-engine plan --archived {target}/archived "
        f"--synced {target}/synced --out plan.json"
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    work = Path(args.dir)
    _cmd_sample(argparse.Namespace(out=str(work)))
    archived = read_roster(work / "archived")
    synced = read_roster(work / "synced")
    plan = build_plan(archived, synced, Settings())
    out = work / "plan.json"
    plan.write(out)
    _print_summary(plan, out)
    for merge in plan.merges[:3]:
        print(merge.explain())
    return 0


def _cmd_settings(args: argparse.Namespace) -> int:
    print(json.dumps(_settings(args.settings).to_dict(), indent=2, sort_keys=True))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="merge-engine",
        description="Merge archived students into the students a roster sync created.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser(
        "plan",
        help="match archived to synced students and write a merge plan",
        description="Match archived to synced students and write a reviewable merge plan.",
        epilog="Example: merge-engine plan --archived old/ --synced clever/ --out plan.json",
    )
    plan.add_argument("--archived", required=True, help="folder of the archived roster")
    plan.add_argument("--synced", required=True, help="folder of the synced roster")
    plan.add_argument("--out", required=True, help="where to write the plan JSON")
    plan.add_argument("--settings", help="settings file (.toml or .json)")
    formats = ["auto", "native", "clever", "oneroster"]
    plan.add_argument("--archived-format", choices=formats, default="auto")
    plan.add_argument("--synced-format", choices=formats, default="auto")
    plan.add_argument(
        "--encoding-fallback",
        metavar="ENCODING",
        help="decode files that are not valid UTF-8 with this encoding (e.g. cp1252); "
        "each use is recorded as a warning",
    )
    plan.set_defaults(func=_cmd_plan)

    show = sub.add_parser(
        "show",
        help="print a plan's merges with their evidence",
        epilog="Example: merge-engine show plan.json --review --limit 20",
    )
    show.add_argument("plan")
    show.add_argument("--review", action="store_true", help="only merges that need review")
    show.add_argument("--id", help="only merges involving this archived or synced id")
    show.add_argument("--limit", type=int, default=50)
    show.set_defaults(func=_cmd_show)

    sample = sub.add_parser(
        "sample",
        help="write the bundled sample district (archived and synced folders)",
        epilog="Example: merge-engine sample --out sample/",
    )
    sample.add_argument("--out", required=True)
    sample.set_defaults(func=_cmd_sample)

    demo = sub.add_parser(
        "demo",
        help="plan the bundled sample district end to end and explain the result",
        epilog="Example: merge-engine demo --dir merge-engine-demo",
    )
    demo.add_argument("--dir", default="merge-engine-demo", help="working folder (created)")
    demo.set_defaults(func=_cmd_demo)

    settings = sub.add_parser(
        "settings",
        help="print the effective settings as JSON",
        epilog="Example: merge-engine settings --settings district.toml",
    )
    settings.add_argument("--settings", help="settings file (.toml or .json)")
    settings.set_defaults(func=_cmd_settings)
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
