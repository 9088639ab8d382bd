"""Where the names come from: the plan holds ids only, the rosters or database hold names.

These views are for the admin, so they show names; errors still name files,
lines and ids only.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection
from typing import Any, cast

import attrs

from ..exceptions import PlanError
from ..model import Roster
from ..plan import MergePlan
from ..plan_file import PlanFile
from ..readers import read_roster
from ..review._export import EMPTY, Directory
from ..review._items import review_items
from ..storage._base import GuardianContacts, RosterLookup, Side
from ..storage.adapter import Capability, capabilities_of
from ._common import DB_HELP, FORMATS, storage_at
from ._progress import steps

__all__ = ["people", "people_args"]


def people_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "names", "where the names come from (the plan holds ids only): the folders or database "
        "the plan was made from"
    )  # fmt: skip
    group.add_argument("--archived", help="folder of the archived roster")
    group.add_argument("--synced", help="folder of the synced roster")
    group.add_argument("--db", metavar="URL", help=DB_HELP + " (instead of the folders)")
    group.add_argument(
        "--archived-format",
        choices=FORMATS,
        default="auto",
        help="format of the archived folder (default: recognised from its files)",
    )
    group.add_argument(
        "--synced-format",
        choices=FORMATS,
        default="auto",
        help="format of the synced folder (default: recognised from its files)",
    )
    group.add_argument(
        "--encoding-fallback",
        metavar="ENCODING",
        help="decode roster files that are not valid UTF-8 with this encoding (e.g. cp1252)",
    )


def people(
    args: argparse.Namespace,
    *,
    required: bool,
    plan: MergePlan | PlanFile | None = None,
    only: Collection[str] | None = None,
) -> Directory:
    """The names behind the plan's ids; with ``only``, just those people (one roster is
    held at a time, so a district's review sheet needs a fraction of its rosters' memory)."""
    if args.db:
        if args.archived or args.synced:
            raise PlanError("give either --db or --archived and --synced, not both")
        # As stored: synced students then also carry the old guardian accounts that
        # applied merges brought, so those accounts are named too.
        with storage_at(args.db) as storage:
            people = Directory.of(_roster(storage, "archived", only), only=only)
            people |= Directory.of(_roster(storage, "synced", only), only=only)
            return _with_accounts(people, storage, plan)
    if bool(args.archived) != bool(args.synced):
        raise PlanError("give both --archived and --synced (or --db URL)")
    if not args.archived:
        if required:
            raise PlanError(
                "the plan holds ids only: give the rosters it was made from for the names "
                "(--archived DIR --synced DIR, or --db URL)"
            )
        return EMPTY
    found = EMPTY
    with steps(args, "reading names", ["archived", "synced"]) as bar:
        for folder, fmt in (
            (args.archived, args.archived_format),
            (args.synced, args.synced_format),
        ):
            bar.start(folder)
            roster = read_roster(folder, format=fmt, fallback_encoding=args.encoding_fallback)
            found |= Directory.of(roster, only=only)
            del roster
            bar.done()
    return found


def _roster(storage: Any, side: Side, only: Collection[str] | None) -> Roster:
    """The ``side`` roster, or only the part ``only`` names when the adapter can read that
    (``Capability.ROSTER_LOOKUP``): a few thousand rows rather than a whole district."""
    if only is not None and Capability.ROSTER_LOOKUP in capabilities_of(storage):
        return cast(RosterLookup, storage).read_roster_of(side, only)
    return cast(Roster, storage.read_roster(side))


def _with_accounts(people: Directory, storage: Any, plan: MergePlan | PlanFile | None) -> Directory:
    """``people`` with the plan's guardian accounts that no student links any more (a
    sync-created account merged away by an earlier apply), read by id."""
    if plan is None:
        return people
    if isinstance(plan, PlanFile):
        plan = plan.for_review()
    ids = {i for item in review_items(plan) for i in (item.left_id, item.right_id)}
    missing = sorted(i for i in ids if not people.name(i))
    if not missing:
        return people
    with storage.transaction() as tx:
        if Capability.GUARDIAN_CONTACTS not in capabilities_of(tx):
            return people
        found = cast(GuardianContacts, tx).guardian_contacts(missing)
    return attrs.evolve(people, guardians={**people.guardians, **found})
