"""The commands that read rosters: plan, audit, load, and settings."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import attrs

from .._gc import gc_paused
from .._plan_codec import PlanStream
from ..applying._account_steps import approval_ids
from ..applying._applying import plan_fingerprint
from ..applying._journal import plan_summaries
from ..exceptions import MergeEngineError, OutputExistsError, PlanError
from ..model import Roster
from ..plan import GuardianAction, GuardianFold, GuardianMerge, MergePlan, RoleLink
from ..plan_file import PlanFile
from ..planning._planner import build_plan, stream_plan
from ..planning._replan import plan_from_storage
from ..review._decisions import Decisions, rejected_pairs, without_rejected
from ..settings import Settings
from ._common import (
    DB_HELP,
    emit_json,
    json_arg,
    plan_counts,
    print_counts,
    read_both,
    read_side,
    roster_args,
    settings_at,
    storage_at,
    written_counts,
)
from ._progress import PLAN_STAGES, steps
from ._review import add_decisions_arg, read_decision_files

__all__ = ["register", "register_settings"]


def cmd_plan(args: argparse.Namespace) -> int:
    # The matcher (numpy, scipy) loads only for the commands that plan: `show` starts at once.

    settings = settings_at(args.settings)
    decisions = read_decision_files(args.decisions)  # a bad file stops before planning
    if args.db:
        if args.archived or args.synced:
            raise PlanError("give either --db or --archived and --synced, not both")
        with storage_at(args.db) as storage:
            if not args.overwrite:
                _keep_applied_plan(Path(args.out), storage, args.db)
            with steps(args, "planning", [*PLAN_STAGES, "write"]) as bar:
                bar.start("reading the database")
                plan = plan_from_storage(
                    storage, settings, progress=bar.stage, rejected=rejected_pairs(decisions)
                )
                plan = _write(plan, decisions, args.out)
    elif Path(args.out).exists() and not args.overwrite:
        raise OutputExistsError(
            f"{args.out} already exists; if it is a plan that was applied, it is the handle "
            "for undoing it. Write the new plan to another file, or pass --overwrite "
            "(`merge-engine history --db URL --plans` lists the plans applied to a database; "
            "`undo --plan-id` undoes one without its file)"
        )
    else:
        if not (args.archived and args.synced):
            raise PlanError("give both --archived and --synced folders (or --db URL)")
        # The cyclic garbage collector is paused from reading to writing: each step already
        # pauses it while it builds (nothing here makes reference cycles), and in between it
        # would traverse the rosters and the plan again and again.
        with (
            gc_paused(),
            steps(args, "planning", ["archived", "synced", *PLAN_STAGES, "write"]) as bar,
        ):
            archived, synced = read_both(args, bar)
            if not decisions:
                counts = _stream(archived, synced, settings, bar.stage, args.out)
                _print(counts, json=args.json)
                return 0
            plan = build_plan(
                archived,
                synced,
                settings,
                progress=bar.stage,
                rejected=rejected_pairs(decisions),
            )
            del archived, synced  # the plan holds ids only: writing it reuses their memory
            plan = _write(plan, decisions, args.out)
    _print(plan_counts(plan, args.out), json=args.json)
    return 0


def _print(counts: dict[str, Any], *, json: bool) -> None:
    if json:
        emit_json(counts)
    else:
        print_counts(counts)


def _stream(
    archived: Roster,
    synced: Roster,
    settings: Settings,
    progress: Callable[[str], None],
    out: str,
) -> dict[str, Any]:
    """Plan and write at once (the file appears, renamed into place, only when complete);
    returns the plan's counts."""
    stream = _CountingStream(out)
    try:
        stream_plan(stream, archived, synced, settings, progress=progress)
    except BaseException:
        stream.abort()
        raise
    return written_counts(
        out,
        plan_fingerprint(stream),
        stream.stats,
        stream.summary,
        account_reviews=stream.account_reviews,
        warnings=stream.warnings,
    )


class _CountingStream(PlanStream):
    """A plan stream that also counts the account steps left to review (``plan`` prints it)."""

    account_reviews = 0

    def accounts(
        self,
        guardian_merges: Iterable[GuardianMerge],
        guardian_actions: Iterable[GuardianAction],
        role_links: Iterable[RoleLink],
        guardian_folds: Iterable[GuardianFold],
    ) -> None:
        sections = _AccountSections(
            tuple(guardian_merges), tuple(guardian_folds), tuple(guardian_actions),
            tuple(role_links),
        )  # fmt: skip
        self.account_reviews = len(approval_ids(sections))
        super().accounts(
            sections.guardian_merges, sections.guardian_actions, sections.role_links,
            sections.guardian_folds,
        )  # fmt: skip


class _AccountSections(NamedTuple):
    guardian_merges: tuple[GuardianMerge, ...]
    guardian_folds: tuple[GuardianFold, ...]
    guardian_actions: tuple[GuardianAction, ...]
    role_links: tuple[RoleLink, ...]


def _write(plan: MergePlan, decisions: list[Decisions], out: str) -> MergePlan:
    plan = without_rejected(plan, decisions)
    plan.write(out)
    return plan


def _keep_applied_plan(out: Path, storage: Any, db: str) -> None:
    """Refuse to overwrite ``out`` when it is a plan still applied to ``storage`` (or no plan)."""
    if not out.exists():
        return
    try:
        fp = plan_fingerprint(PlanFile.open(out))
    except (MergeEngineError, OSError, ValueError):
        raise OutputExistsError(
            f"{out} already exists and is not a plan file; write the plan to another file, "
            "or pass --overwrite"
        ) from None
    applied = [
        p for p in plan_summaries(storage.audit_records())
        if p.plan_id == fp and p.still_applied + p.steps_still_applied
    ]  # fmt: skip
    if applied:
        raise OutputExistsError(
            f"{out} holds plan {fp}, whose {applied[0].still_applied} merges are applied to "
            f"this database; it is the handle for undoing them. Write the new plan to another "
            f"file, or pass --overwrite (then undo with: merge-engine undo --plan-id {fp} "
            f"--db {db})"
        )


def cmd_audit(args: argparse.Namespace) -> int:
    from ..accounts._contact_audit import audit_contacts  # noqa: PLC0415
    from ..planning._planner import build_plan  # noqa: PLC0415

    archived = plan = stranded = None
    if args.db:
        if args.synced or args.archived:
            raise PlanError("give either --db or roster folders, not both")
        from ..applying._sweep import stranded_history  # noqa: PLC0415

        with storage_at(args.db) as storage:
            synced = storage.read_roster("synced")
            archived = storage.read_roster("archived")
            stranded = stranded_history(storage)
    else:
        if not args.synced:
            raise PlanError("give --synced DIR (and optionally --archived DIR), or --db URL")
        names = ["synced", "archived"] if args.archived else ["synced"]
        with steps(args, "reading", names) as bar:
            bar.start("synced")
            synced = read_side(args, "synced")
            bar.done()
            if args.archived:
                bar.start("archived")
                archived = read_side(args, "archived")
                bar.done()
    if archived is not None and archived.students:
        with steps(args, "matching archived students", PLAN_STAGES) as bar:
            plan = build_plan(archived, synced, settings_at(args.settings), progress=bar.stage)
    report = audit_contacts(synced, archived, plan, stranded)
    to_stdout = args.json == "-"
    if args.json and not to_stdout:
        Path(args.json).write_text(
            json.dumps(report.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    if args.csv:
        Path(args.csv).write_text(report.to_csv(), encoding="utf-8", newline="")
    if to_stdout:
        emit_json(report.to_dict())
        return 0
    print(report.summary())
    if args.json:
        print(f"JSON report written to {args.json}")
    if args.csv:
        print(f"CSV report written to {args.csv}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from ..storage import load_rosters  # noqa: PLC0415

    with steps(args, "loading", ["archived", "synced", "database"]) as bar:
        archived, synced = read_both(args, bar)
        bar.start("writing to the database")
        report = load_rosters(args.db, archived, synced, replace=args.replace)
        bar.done()
    if args.json:
        emit_json({"db": args.db, **attrs.asdict(report)})
        return 0
    print(
        f"loaded {report.archived_students} archived and {report.synced_students} synced "
        f"students, {report.guardians} guardians ({report.links} links), {report.staff} staff "
        f"into {args.db} in {report.seconds:.1f}s"
    )
    print(f"next: merge-engine plan --db {args.db} --out plan.json")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    print(json.dumps(settings_at(args.settings).to_dict(), indent=2, sort_keys=True))
    return 0


def register(sub: Any) -> None:
    plan = sub.add_parser(
        "plan",
        help="match archived to synced students and write a merge plan",
        description="Match archived to synced students and write a reviewable merge plan.",
        epilog="Example: merge-engine plan --archived old/ --synced clever/ --out plan.json\n"
        "         merge-engine plan --db district.db --out plan.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("--db", metavar="URL", help=DB_HELP + " (instead of the folders)")
    roster_args(plan, required=False)
    plan.add_argument(
        "--out",
        required=True,
        help="where to write the plan JSON (a name ending in .gz: gzip-compressed)",
    )
    plan.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out even if it exists (without it: refused when --out holds a plan "
        "still applied to --db, or, without --db, whenever --out exists)",
    )
    plan.add_argument("--settings", help="settings file (.toml or .json)")
    add_decisions_arg(
        plan, "a reviewer's decisions (review import): rejected pairs are not proposed "
        "again and are listed in the plan's warnings (repeatable)"
    )  # fmt: skip
    json_arg(plan, "the plan's counts and id")
    plan.set_defaults(func=cmd_plan)

    audit = sub.add_parser(
        "audit",
        help="report contact data quality problems (before or after a sync)",
        description="Report guardians without a SIS id, conflicting or unreachable contacts, "
        "students without guardians, staff who are also guardians, and (with the archived "
        "roster) archived students with no plausible synced counterpart. Ids only, no names.",
        epilog="Example: merge-engine audit --synced clever/ --archived old/ --csv audit.csv\n"
        "         merge-engine audit --db district.db --json audit.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("--db", metavar="URL", help=DB_HELP + " (instead of the folders)")
    roster_args(audit, required=False)
    audit.add_argument("--settings", help="settings file for the archived match (.toml or .json)")
    audit.add_argument(
        "--json",
        metavar="FILE",
        nargs="?",
        const="-",
        help="print the report as JSON on stdout instead of text, or, with FILE, also write "
        "it to FILE (keys: docs/cli.md)",
    )
    audit.add_argument("--csv", metavar="FILE", help="also write the findings as CSV")
    audit.set_defaults(func=cmd_audit)

    load = sub.add_parser(
        "load",
        help="load an archived and a synced roster into a database (reference schema)",
        description="Load both rosters into a database, creating the reference schema if needed.",
        epilog="Example: merge-engine load --db district.db --archived old/ --synced clever/",
    )
    load.add_argument("--db", metavar="URL", required=True, help=DB_HELP)
    roster_args(load, required=True)
    load.add_argument(
        "--replace",
        action="store_true",
        help="empty the reference tables first (history, journal, audit too)",
    )
    json_arg(load, "the counts loaded")
    load.set_defaults(func=cmd_load)


def register_settings(sub: Any) -> None:
    settings = sub.add_parser(
        "settings",
        help="print the effective settings as JSON",
        epilog="Example: merge-engine settings --settings district.toml",
    )
    settings.add_argument("--settings", help="settings file (.toml or .json)")
    settings.add_argument(
        "--json", action="store_true", help="accepted for symmetry: the settings are JSON anyway"
    )
    settings.set_defaults(func=cmd_settings)
