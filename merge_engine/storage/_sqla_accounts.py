"""The SQLAlchemy adapter's account methods (:class:`~.base.AccountTransaction`).

Guardian merge state, a guardian's links across students and multiple-role
account links, on the tables the mapping names. Like the student methods,
every write checks what it needs first (a failed statement would abort a
PostgreSQL transaction), binds every value, and takes identifiers only
from the mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..exceptions import MappingError, StorageError
from ..model import Contact
from ._base import AccountLink, GuardianLink, HistoryTable, StoredGuardian
from ._mapping import AccountLinkTable
from ._rows import build_contact, link_order
from ._sqla_schema import find_column
from ._sqla_stmts import Statements, any_of, converter

__all__ = ["AccountMethods", "AccountStatements", "LinkStatements"]

_CHUNK = 1000  # guardian ids per locking read


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _bound(to_db: Callable[[Any], Any], value: str) -> Any:
    """``value`` as the column takes it, or None (matches nothing) when it cannot hold it."""
    try:
        return to_db(value)
    except ValueError:
        return None


class AccountStatements:
    """Every statement of the account methods, built once from the mapping and reflected tables."""

    def __init__(
        self, st: Statements, tables: Mapping[str, sa.Table], gaps: Mapping[str, str]
    ) -> None:
        m = st.mapping
        self.gaps = dict(gaps)  # account parts a platform's database lacks (see reflect)
        gt, g_id, merged = st.guardians, st.g_id, st.g_merged
        self.merged_to_db = converter(merged) if merged is not None else st.gid_to_db
        self.guardians_in = (
            sa.select(g_id, merged if merged is not None else sa.null())
            .where(any_of(g_id, "ids", st.postgres))
            .order_by(g_id)
            .with_for_update()
        )
        self.guardian_exists = sa.select(g_id).where(g_id == sa.bindparam("id"))
        rel = st.l_rel if st.l_rel is not None else sa.null()
        self.links_of_guardian = (
            sa.select(st.l_student, rel, st.link_order)
            .where(st.l_guardian == sa.bindparam("guardian"))
            .order_by(st.l_student)
        )
        # Batch-level statements: the links of many guardians, and which of many ids exist.
        self.links_of_guardians_any = (
            sa.select(st.l_guardian, st.l_student, rel, st.link_order)
            .where(any_of(st.l_guardian, "ids", st.postgres))
            .order_by(st.l_guardian, st.l_student)
        )
        self.guardian_ids_any = sa.select(g_id).where(any_of(g_id, "ids", st.postgres))
        self.set_merged: sa.Update | None = None
        self.clear_merged: sa.Update | None = None
        self.mark_merged: sa.Update | None = None  # many marks (executemany), ids checked first
        self.mark_merged_unnest: sa.Update | None = None  # many marks in one statement (PostgreSQL)
        if merged is not None:
            this = g_id == sa.bindparam("me_guardian", type_=g_id.type)
            target = gt.alias("target")
            into = target.c[g_id.name] == sa.bindparam("me_into", type_=g_id.type)
            value = sa.bindparam("me_target", type_=merged.type)
            self.set_merged = (
                sa.update(gt).where(this, sa.exists().where(into)).values({merged.name: value})
            )
            self.clear_merged = sa.update(gt).where(this).values({merged.name: None})
            self.mark_merged = sa.update(gt).where(this).values({merged.name: value})
            if st.postgres:
                ids = sa.bindparam("me_guardians", type_=sa.ARRAY(g_id.type))
                targets = sa.bindparam("me_targets", type_=sa.ARRAY(merged.type))
                pairs = sa.select(
                    sa.func.unnest(ids).label("g"), sa.func.unnest(targets).label("t")
                ).subquery("me_marks")
                # ``id = ANY(ids)`` lets the planner find the rows by index, not a table scan.
                self.mark_merged_unnest = (
                    sa.update(gt)
                    .where(g_id == sa.any_(ids), g_id == pairs.c.g)
                    .values({merged.name: pairs.c.t})
                )
        self.links: LinkStatements | None = None
        if m.account_links is not None and m.account_links.table in tables:
            self.links = LinkStatements(st, m.account_links, tables[m.account_links.table])

    def require(self, setting: str) -> None:
        """Raise the :class:`MappingError` saying what to add, if ``setting`` is missing."""
        message = self.gaps.get(setting)
        if message is not None:
            raise MappingError(message)


class LinkStatements:
    """Statements on the account link table (multiple-role links)."""

    def __init__(self, st: Statements, spec: AccountLinkTable, table: sa.Table) -> None:
        self.table = table
        self.columns = [
            _column(table, name, f"account_links.{key}")
            for key, name in (
                ("kind", spec.kind),
                ("first_id", spec.first_id),
                ("second_id", spec.second_id),
                ("mode", spec.mode),
            )
        ]
        kind, first, second, _ = self.columns
        self.first_to_db, self.second_to_db = converter(first), converter(second)
        self.select = (
            sa.select(*self.columns)
            .where(sa.or_(first == sa.bindparam("first"), second == sa.bindparam("second")))
            .order_by(kind, first, second)
        )
        match = sa.and_(
            kind == sa.bindparam("me_kind", type_=kind.type),
            first == sa.bindparam("me_first", type_=first.type),
            second == sa.bindparam("me_second", type_=second.type),
        )
        self.remove = sa.delete(table).where(match)
        # One round trip says whether both accounts exist and whether the link does.
        guardian = sa.exists().where(st.g_id == sa.bindparam("me_guardian", type_=st.g_id.type))
        first_guardian = sa.exists().where(st.g_id == sa.bindparam("me_owner", type_=st.g_id.type))
        self.check_guardians = sa.select(first_guardian, guardian, sa.exists().where(match))
        self.check_staff: sa.Select[bool, bool, bool] | None = None
        self.staff_to_db: Callable[[Any], Any] = str
        if st.staff is not None:
            owner = sa.bindparam("me_owner", type_=st.staff_id.type)
            staff = sa.exists().where(st.staff_id == owner)
            self.check_staff = sa.select(staff, guardian, sa.exists().where(match))
            self.staff_to_db = converter(st.staff_id)


def _column(table: sa.Table, name: str, setting: str) -> sa.Column[Any]:
    column = find_column(table, name)
    if column is None:
        raise MappingError(
            f"table {table.name!r} has no column {name!r} (named by {setting}); fix the mapping"
        )
    return column


class AccountMethods:
    """The :class:`~.base.AccountTransaction` methods of the SQLAlchemy transaction."""

    _stmts: Statements
    _accounts: AccountStatements

    def _run(
        self, statement: sa.Executable, params: Any = None
    ) -> sa.CursorResult[*tuple[Any, ...]]:  # pragma: no cover - the transaction's own
        raise NotImplementedError

    def _id_chunks(
        self, ids: Sequence[str], to_db: Callable[[Any], Any]
    ) -> Iterable[tuple[list[Any], dict[Any, str]]]:  # pragma: no cover - the transaction's own
        raise NotImplementedError

    def _many(
        self, statement: sa.Executable, params: list[dict[str, Any]]
    ) -> int:  # pragma: no cover - the transaction's own
        raise NotImplementedError

    def _guardian_id(self, guardian_id: str) -> Any:
        try:
            return self._stmts.gid_to_db(guardian_id)
        except ValueError:  # the id column cannot hold it, so no such guardian exists
            raise StorageError(f"no guardian with id {guardian_id!r}") from None

    def guardians(self, ids: Sequence[str]) -> Mapping[str, StoredGuardian]:
        self._accounts.require("guardians.merged_into")  # no merge state to report
        bound = (_bound(self._stmts.gid_to_db, i) for i in sorted(set(ids)))
        wanted = [v for v in bound if v is not None]
        found: dict[str, StoredGuardian] = {}
        for i in range(0, len(wanted), _CHUNK):
            params = {"ids": wanted[i : i + _CHUNK]}
            for gid, merged in self._run(self._accounts.guardians_in, params).all():  # locks
                found[str(gid)] = StoredGuardian(str(gid), _text(merged))
        return dict(sorted(found.items()))

    def guardian_contacts(self, ids: Sequence[str]) -> Mapping[str, Contact]:
        bound = (_bound(self._stmts.gid_to_db, i) for i in sorted(set(ids)))
        wanted = [v for v in bound if v is not None]
        found: dict[str, Contact] = {}
        for i in range(0, len(wanted), _CHUNK):
            params = {"ids": wanted[i : i + _CHUNK]}
            for row in self._run(self._stmts.guardian_contacts_in, params).all():
                found[str(row[0])] = build_contact(row, self._stmts.guardian_fields, None)
        return dict(sorted(found.items()))

    def guardian_history_tables(self) -> Sequence[HistoryTable]:
        return self._stmts.mapping.guardian_history

    def links_of_guardian(self, guardian_id: str) -> list[GuardianLink]:
        gid = _bound(self._stmts.gid_to_db, guardian_id)
        if gid is None:
            return []
        rows = self._run(self._accounts.links_of_guardian, {"guardian": gid}).all()
        links = [GuardianLink(str(s), guardian_id, _text(rel), link_order(o)) for s, rel, o in rows]
        return sorted(links, key=lambda link: link.student_id)

    def _merge_marks(self) -> tuple[sa.Update, sa.Update, sa.Update]:
        """The set, clear and mark statements; MappingError when merged_into is unmapped."""
        acc = self._accounts
        acc.require("guardians.merged_into")
        if acc.set_merged is None or acc.clear_merged is None or acc.mark_merged is None:
            raise MappingError(
                "guardians.merged_into is not mapped; map guardians.merged_into to the column "
                "marking a guardian account merged into another to apply guardian merges"
            )
        return acc.set_merged, acc.clear_merged, acc.mark_merged

    def set_guardian_merged_into(self, guardian_id: str, into_id: str | None) -> None:
        acc = self._accounts
        set_merged, clear_merged, _ = self._merge_marks()
        gid = self._guardian_id(guardian_id)
        if into_id is None:
            if self._run(clear_merged, {"me_guardian": gid}).rowcount > 0:
                return
            raise StorageError(f"no guardian with id {guardian_id!r}")
        into = self._guardian_id(into_id)
        params = {"me_guardian": gid, "me_into": into, "me_target": acc.merged_to_db(into_id)}
        if self._run(set_merged, params).rowcount > 0:
            return
        if self._run(acc.guardian_exists, {"id": gid}).first() is None:
            raise StorageError(f"no guardian with id {guardian_id!r}")
        raise StorageError(f"no guardian with id {into_id!r}")

    # -- Optional batch-level methods (see BulkAccountTransaction) -------------------------

    def links_of_guardians(self, guardian_ids: Sequence[str]) -> dict[str, list[GuardianLink]]:
        result: dict[str, list[GuardianLink]] = {i: [] for i in guardian_ids}
        statement = self._accounts.links_of_guardians_any
        for chunk, back in self._id_chunks(guardian_ids, self._stmts.gid_to_db):
            for guardian, student, rel, o in self._run(statement, {"ids": chunk}).all():
                gid = back.get(guardian)
                if gid is not None:
                    result[gid].append(GuardianLink(str(student), gid, _text(rel), link_order(o)))
        for links in result.values():
            links.sort(key=lambda link: link.student_id)  # as links_of_guardian orders them
        return result

    def set_guardian_merged_into_many(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        if not pairs:
            return
        acc = self._accounts
        _, _, mark_merged = self._merge_marks()
        wanted = {g for g, _ in pairs} | {into for _, into in pairs if into is not None}
        present: set[str] = set()
        for chunk, back in self._id_chunks(list(wanted), self._stmts.gid_to_db):
            rows = self._run(acc.guardian_ids_any, {"ids": chunk})
            present.update(back[r[0]] for r in rows if r[0] in back)
        for guardian_id, into_id in pairs:  # the error set_guardian_merged_into would raise
            for account in (guardian_id, into_id):
                if account is not None and account not in present:
                    raise StorageError(f"no guardian with id {account!r}")
        marks: dict[Any, Any] = {}  # a later pair for the same guardian wins
        for guardian_id, into_id in pairs:
            target = None if into_id is None else acc.merged_to_db(into_id)
            marks[self._guardian_id(guardian_id)] = target
        if acc.mark_merged_unnest is not None:
            params = {"me_guardians": list(marks), "me_targets": list(marks.values())}
            done = self._run(acc.mark_merged_unnest, params).rowcount
        else:
            done = self._many(
                mark_merged,
                [{"me_guardian": g, "me_target": t} for g, t in marks.items()],
            )
        if done != len(marks):
            raise StorageError("some guardian accounts could not be marked merged")

    def _link_table(self) -> LinkStatements:
        self._accounts.require("account_links")
        if self._accounts.links is None:
            raise MappingError(
                "account_links is not mapped; map account_links to the table recording "
                "multiple-role links to apply them"
            )
        return self._accounts.links

    def account_links(self, account_id: str) -> list[AccountLink]:
        if self._stmts.mapping.account_links is None:
            return []
        acc = self._link_table()
        params = {
            "first": _bound(acc.first_to_db, account_id),
            "second": _bound(acc.second_to_db, account_id),
        }
        rows = self._run(acc.select, params).all()
        links = [AccountLink(k, str(f), str(s), mode) for k, f, s, mode in rows]
        return sorted(links, key=lambda x: (x.kind, x.first_id, x.second_id))

    def _link_params(self, acc: LinkStatements, link: AccountLink) -> dict[str, Any] | None:
        """The link's key as the link table takes it (None: the table cannot hold it)."""
        try:
            return {
                "me_kind": link.kind,
                "me_first": acc.first_to_db(link.first_id),
                "me_second": acc.second_to_db(link.second_id),
            }
        except ValueError:
            return None

    def add_account_link(self, link: AccountLink) -> None:
        acc = self._link_table()
        if link.kind == "staff_guardian":
            if acc.check_staff is None:
                raise StorageError(
                    "no staff table is mapped, so a staff_guardian link cannot be recorded"
                )
            check, first_to_db, first = acc.check_staff, acc.staff_to_db, "staff member"
        else:
            check, first_to_db, first = acc.check_guardians, self._stmts.gid_to_db, "guardian"
        owner = _bound(first_to_db, link.first_id)
        if owner is None:
            raise StorageError(f"no {first} with id {link.first_id!r}")
        key = self._link_params(acc, link)
        if key is None:
            raise StorageError(
                f"accounts {link.first_id!r} and {link.second_id!r} do not fit the columns of "
                f"the account link table {acc.table.name!r}"
            )
        params = {"me_owner": owner, "me_guardian": self._guardian_id(link.second_id), **key}
        has_first, has_second, linked = self._run(check, params).one()
        if not has_first:
            raise StorageError(f"no {first} with id {link.first_id!r}")
        if not has_second:
            raise StorageError(f"no guardian with id {link.second_id!r}")
        if linked:
            raise StorageError(
                f"accounts {link.first_id!r} and {link.second_id!r} are already linked"
            )
        kind, first_col, second_col, mode = (c.name for c in acc.columns)
        values = {kind: link.kind, first_col: key["me_first"], second_col: key["me_second"]}
        self._run(sa.insert(acc.table), {**values, mode: link.mode})

    def remove_account_link(self, link: AccountLink) -> None:
        acc = self._link_table()
        key = self._link_params(acc, link)
        if key is not None:  # a link the table cannot hold is not there
            self._run(acc.remove, key)
