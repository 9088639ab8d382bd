"""Builders and checks shared by the apply, undo, fault, stateful and CLI tests.

A district is a synthetic archived and synced roster plus history rows
(messages, notes, attendance with some same-day collisions). Storages are
built the same way on every adapter, and ``state`` reads everything back
through the storage contract only, so one check serves all adapters.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from merge_engine.applying._apply import ApplyReport, audit_history
from merge_engine.exceptions import StorageError
from merge_engine.model import Roster
from merge_engine.plan import MergePlan
from merge_engine.planning._planner import build_plan, record_hashes, student_hash
from merge_engine.settings import Settings
from merge_engine.storage import (
    Capability,
    InMemoryStorage,
    capabilities_of,
    load_history,
    load_rosters,
    open_storage,
)
from merge_engine.storage._base import (
    BULK_READS,
    BULK_WRITES,
    HistoryRow,
    HistoryTable,
    StorageAdapter,
)
from merge_engine.storage._mapping import StorageMapping
from merge_engine.testing.synthetic import generate_district

FAST = Settings(random_pairs=30_000)
PG_URL = os.environ.get("MERGE_ENGINE_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DAYS = ("2024-09-03", "2024-09-04", "2024-09-05", "2024-09-06")
Rows = dict[str, list[dict[str, Any]]]


@attrs.frozen
class District:
    archived: Roster
    synced: Roster
    rows: Rows


def history_for(archived: Roster, synced: Roster, *, seed: int) -> Rows:
    """Messages, notes and attendance for every archived student; some for synced ones.

    Synced students get attendance on the same days as archived ones now and
    then, so merges meet same-day collisions on the unique (student, day) key.
    """
    rng = random.Random(seed)
    rows: Rows = {"messages": [], "notes": [], "attendance": []}
    ids = iter(range(1, 10**9))
    for student in archived.students:
        for k in range(rng.randint(0, 3)):
            rows["messages"].append(
                {"id": next(ids), "student_id": student.id, "sent_at": f"2024-0{k + 1}-01T08:00:00",
                 "body": f"message {k}"}
            )  # fmt: skip
        if rng.random() < 0.7:
            rows["notes"].append(
                {"id": next(ids), "student_id": student.id, "created_at": "2024-02-02",
                 "body": "note"}
            )  # fmt: skip
        for day in rng.sample(DAYS, rng.randint(0, 2)):
            rows["attendance"].append(
                {"id": next(ids), "student_id": student.id, "day": day, "status": "present"}
            )
    for student in synced.students:
        if rng.random() < 0.5:
            rows["attendance"].append(
                {"id": next(ids), "student_id": student.id, "day": rng.choice(DAYS),
                 "status": "absent"}
            )  # fmt: skip
        if rng.random() < 0.3:
            rows["messages"].append(
                {"id": next(ids), "student_id": student.id, "sent_at": "2024-10-01T08:00:00",
                 "body": "welcome"}
            )  # fmt: skip
    return rows


@functools.cache
def district(n: int = 120, seed: int = 7) -> District:
    d = generate_district(n, seed=seed)
    return District(d.archived, d.synced, history_for(d.archived, d.synced, seed=seed))


@functools.cache
def plan_of(n: int = 120, seed: int = 7, *, accounts: bool = False) -> MergePlan:
    """The plan of ``district(n, seed)`` as read back from storage (so hashes match).

    Without ``accounts`` the plan's account steps are left out, so student
    merges are tested alone (tests/test_account_apply.py covers the steps).
    """
    storage = memory_storage(district(n, seed))
    plan = build_plan(storage.read_roster("archived"), storage.read_roster("synced"), FAST)
    return plan if accounts else students_only(plan)


def students_only(plan: MergePlan) -> MergePlan:
    """The plan without its account steps (guardian merges, actions, role links)."""
    return attrs.evolve(
        plan, guardian_merges=(), guardian_folds=(), guardian_actions=(), role_links=()
    )


def memory_storage(d: District, tables: Sequence[HistoryTable] | None = None) -> InMemoryStorage:
    if tables is None:
        return InMemoryStorage(d.archived, d.synced, rows=d.rows)
    return InMemoryStorage(d.archived, d.synced, rows=d.rows, history_tables=tables)


@functools.cache
def pg_available() -> bool:
    try:
        import sqlalchemy  # noqa: PLC0415

        engine = sqlalchemy.create_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception:  # any failure means: no server to test against
        return False
    return True


def require_pg() -> None:
    """Skip (or fail, with MERGE_ENGINE_REQUIRE_PG=1) when PostgreSQL is unreachable."""
    try:
        import merge_engine.storage._sqla  # noqa: F401, PLC0415
    except ImportError as exc:
        message = f"the SQLAlchemy adapter cannot be imported ({exc})"
    else:
        if pg_available():
            return
        message = f"PostgreSQL at MERGE_ENGINE_PG_URL={PG_URL} is unreachable"
    if os.environ.get("MERGE_ENGINE_REQUIRE_PG") == "1":
        pytest.fail(message + " and MERGE_ENGINE_REQUIRE_PG=1")
    pytest.skip(message)


def make_storage(kind: str, d: District, tmp_path: Path) -> StorageAdapter:
    """A storage of ``kind`` (memory, sqlite, postgres) holding district ``d``."""
    if kind == "memory":
        return memory_storage(d)
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / f'district-{random.randrange(10**9)}.db'}"
        storage = open_storage(url, create=True)
        load_rosters(storage, d.archived, d.synced)
    elif kind == "postgres":
        require_pg()
        storage = pg_storage(new_pg_schema(), create=True)
        load_rosters(storage, d.archived, d.synced)
    else:
        raise ValueError(kind)
    load_history(storage, d.rows)
    return storage


#: PostgreSQL schemas made by this test run, dropped when the run ends (see conftest.py).
PG_SCHEMAS: list[str] = []


def new_pg_schema() -> str:
    """A schema name of this test run's own: two runs on one server never touch each other."""
    name = f"me_apply_{secrets.token_hex(6)}"
    PG_SCHEMAS.append(name)
    return name


def pg_storage(schema: str, *, create: bool = False, isolation: str | None = None) -> Any:
    """A new connection (adapter) to the reference schema in PostgreSQL schema ``schema``."""
    from merge_engine.storage._sqla import SQLAlchemyStorage  # noqa: PLC0415

    mapping = StorageMapping(schema=schema)
    return SQLAlchemyStorage(PG_URL, mapping=mapping, create=create, isolation_level=isolation)


def drop_pg_schemas() -> None:
    """Drop every schema :func:`new_pg_schema` handed out (at the end of the run)."""
    if not PG_SCHEMAS or not pg_available():
        return
    import sqlalchemy as sa  # noqa: PLC0415

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        for name in PG_SCHEMAS:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()
    PG_SCHEMAS.clear()


#: Bookkeeping tables: they grow with every apply and undo, by design.
BOOKKEEPING_TABLES = frozenset({"merge_journal", "merge_audit"})
#: Change-tracking columns that apply and undo move on purpose (docs/adapters.md).
MOVING_COLUMNS = frozenset({("students", "updated_at")})


def db_snapshot(
    storage: StorageAdapter, *, bookkeeping: bool = False
) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table of the whole database, every column as text, sorted.

    Not read through the storage contract: straight from SQLite, PostgreSQL
    or the in-memory adapter's state, so columns the contract does not carry
    (``contact_order``, guardian details, staff) are compared too. Journal
    and audit tables are left out unless ``bookkeeping``; the columns in
    :data:`MOVING_COLUMNS` are always left out.
    """
    if isinstance(storage, InMemoryStorage):
        tables = _memory_tables(storage)
    elif hasattr(storage, "path"):
        tables = _sqlite_tables(str(storage.path))
    else:
        tables = _pg_tables(storage)
    out: dict[str, list[tuple[str, ...]]] = {}
    for name, (columns, rows) in tables.items():
        if name in BOOKKEEPING_TABLES and not bookkeeping:
            continue
        keep = [i for i, c in enumerate(columns) if (name, c) not in MOVING_COLUMNS]
        out[name] = sorted(tuple(f"{columns[i]}={_text(r[i])}" for i in keep) for r in rows)
    return out


Table = tuple[list[str], list[tuple[Any, ...]]]


def _sqlite_tables(path: str) -> dict[str, Table]:
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        out: dict[str, Table] = {}
        for name in names:
            cur = conn.execute(f'SELECT * FROM "{name}"')
            out[name] = ([d[0] for d in cur.description], cur.fetchall())
        return out
    finally:
        conn.close()


def _pg_tables(storage: Any) -> dict[str, Table]:
    import sqlalchemy as sa  # noqa: PLC0415

    schema = storage.mapping.schema or "public"
    out: dict[str, Table] = {}
    with storage.engine.connect() as conn:
        names = conn.execute(
            sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": schema},
        ).scalars()
        for name in list(names):
            result = conn.execute(sa.text(f'SELECT * FROM "{schema}"."{name}"'))
            out[name] = (list(result.keys()), [tuple(r) for r in result])
    return out


def _memory_tables(storage: InMemoryStorage) -> dict[str, Table]:
    st = storage._state  # the test reads the adapter's whole state, not its contract
    students = [
        (i, s.archived, s.merged_into, repr(attrs.astuple(attrs.evolve(s.student, contacts=()))))
        for i, s in st.students.items()
    ]
    out: dict[str, Table] = {
        "students": (["id", "archived", "merged_into", "fields"], students),
        "guardians": (
            ["id", "fields", "merged_into"],
            [
                (g, repr(attrs.astuple(c)), st.guardian_merged.get(g))
                for g, c in st.guardians.items()
            ],
        ),
        "student_guardians": (
            ["student_id", "guardian_id", "relationship", "contact_order"],
            [
                (s, g, rel, order)
                for s, links in st.links.items()
                for g, (rel, order) in links.items()
            ],
        ),
        "account_links": (["key", "mode"], [(repr(k), m) for k, m in st.account_links.items()]),
        "staff": (["id", "fields"], [(i, repr(v)) for i, v in st.staff.items()]),
        "merge_journal": (["key", "entry"], [(repr(k), v) for k, v in st.journal.items()]),
        "merge_audit": (["record"], [(repr(r),) for r in st.audit]),
    }
    for name, rows in st.rows.items():
        out[name] = (
            ["key", "values"],
            [(repr(k), repr(sorted(v.items()))) for k, v in rows.items()],
        )
    return out


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def row_text(table: HistoryTable, row: HistoryRow) -> str:
    """A row's content without its student column, as comparable text."""
    items = sorted((k, _text(v)) for k, v in row.values.items() if k != table.student_column)
    return row.table + repr(items)


def state(storage: StorageAdapter, plan: MergePlan) -> dict[str, Any]:
    """Everything apply and undo may change, read through the storage contract only.

    Audit timestamps are left out; everything else (students' merge state and
    hashes, every history row and its owner, links, journal, audit) is in.
    """
    ids = sorted(
        {m.archived_id for m in plan.merges} | {m.synced_id for m in plan.merges}
        | set(plan.unmatched_archived) | set(plan.unmatched_synced)
    )  # fmt: skip
    from merge_engine.applying._apply import plan_fingerprint  # noqa: PLC0415

    fp = plan_fingerprint(plan)
    with storage.transaction() as tx:
        stored = tx.students(ids)
        students = {
            i: (s.archived, s.merged_into, student_hash(s.student)) for i, s in stored.items()
        }
        tables = list(tx.history_tables())
        rows = {
            t.name: sorted(
                (i, repr(tuple(_text(k) for k in r.key)), row_text(t, r))
                for i in ids
                for r in tx.history_rows(t.name, i)
            )
            for t in tables
        }
        links = sorted(  # with each link's position: undo must restore contact order too
            (link.student_id, link.guardian_id, link.relationship or "", _position(link.order))
            for i in ids
            for link in tx.guardian_links(i)
        )
        journal = {
            m.archived_id: _entry_text(e)
            for m in plan.merges
            if (e := tx.journal(fp, m.archived_id)) is not None
        }
    audit = [
        (r.action, r.plan_fingerprint, r.archived_id, r.synced_id, sorted(r.rows.items()), r.note)
        for r in storage.audit_records()
    ]
    return {"students": students, "rows": rows, "links": links, "journal": journal,
            "audit": audit}  # fmt: skip


def _position(order: int | None) -> int:
    return -1 if order is None else order


def _entry_text(entry: Any) -> str:
    moved = sorted((t, sorted(repr(tuple(_text(x) for x in k)) for k in keys))
                   for t, keys in entry.moved.items())  # fmt: skip
    aside = sorted(
        (
            r.table,
            repr(tuple(_text(x) for x in r.key)),
            sorted((k, _text(v)) for k, v in r.values.items()),
        )
        for r in entry.set_aside
    )
    links = sorted(
        (lk.student_id, lk.guardian_id, lk.relationship or "") for lk in entry.links_added
    )
    return repr((entry.synced_id, moved, aside, links, entry.undone))


def without_bookkeeping(s: Mapping[str, Any]) -> dict[str, Any]:
    """A state without journal and audit (what an undo must restore exactly)."""
    return {k: v for k, v in s.items() if k not in ("journal", "audit")}


def signature(
    storage: StorageAdapter, plan: MergePlan, also: Sequence[MergePlan] = ()
) -> Counter[str]:
    """The conservation signature: every history row's content (owner left out) as a multiset.

    Rows set aside by applied merges count too (they live in the journal of
    ``plan`` or of the plans in ``also``), so apply and undo must both leave
    the signature unchanged.
    """
    from merge_engine.applying._apply import plan_fingerprint  # noqa: PLC0415

    fps = [plan_fingerprint(p) for p in (plan, *also)]
    ids = sorted(
        {m.archived_id for m in plan.merges} | {m.synced_id for m in plan.merges}
        | set(plan.unmatched_archived) | set(plan.unmatched_synced)
    )  # fmt: skip
    sig: Counter[str] = Counter()
    with storage.transaction() as tx:
        tables = {t.name: t for t in tx.history_tables()}
        for t in tables.values():
            for i in ids:
                sig.update(_digest(row_text(t, r)) for r in tx.history_rows(t.name, i))
        for fp in fps:
            for m in plan.merges:
                e = tx.journal(fp, m.archived_id)
                if e is not None and not e.undone:
                    sig.update(_digest(row_text(tables[r.table], r)) for r in e.set_aside)
    return sig


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def row_digest(table: HistoryTable, row: HistoryRow) -> str:
    """One row's entry in :func:`signature`."""
    return _digest(row_text(table, row))


WRITE_METHODS = frozenset({
    "move_rows", "remove_rows", "insert_rows", "add_guardian_link", "remove_guardian_link",
    "set_merged_into", "write_journal", "write_audit", *BULK_WRITES,
    "set_guardian_merged_into", "add_account_link", "remove_account_link",
    "set_guardian_merged_into_many",
})  # fmt: skip
#: Batch-level reads and writes of the account steps, offered or not like the others.
ACCOUNT_BULK_READS = ("links_of_guardians",)
ACCOUNT_BULK_WRITES = ("set_guardian_merged_into_many",)
#: Optional reads beyond the batch-level ones, hidden with them ("hide").
OPTIONAL_READS = ("audit_records_of",)
#: How a FaultyStorage offers the adapter's optional batch-level methods.
BULK_MODES = ("use", "fail", "reads", "hide")


class StorageProxy:
    """A storage forwarding to ``inner``; a subclass changes what its transactions do
    (``wrap``) or how one is opened and closed (``transaction``)."""

    def __init__(self, inner: StorageAdapter) -> None:
        self.inner = inner

    def read_roster(self, side: Any) -> Roster:
        return self.inner.read_roster(side)

    def audit_records(self) -> Iterator[Any]:
        return self.inner.audit_records()

    def close(self) -> None:
        self.inner.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.inner.transaction() as tx:
            yield self.wrap(tx)

    def wrap(self, tx: Any) -> Any:
        return tx


class FaultyStorage(StorageProxy):
    """A proxy whose transactions' write methods raise on chosen calls (counted across the run).

    ``fail_on(n)`` says whether the n-th write (1-based) fails; ``commit_fails(k)``
    whether the k-th transaction fails as it commits (it is rolled back).
    Every write counts, batch-level ones (``move_rows_many``, ``write_audits``...)
    included. ``bulk`` says what the proxy does with the adapter's optional
    batch-level methods: ``"use"`` them (default), make every batch-level write
    ``"fail"`` (uncounted, in ``bulk_failures``: the engine then redoes each batch
    one merge at a time), offer only the bulk ``"reads"``, or ``"hide"`` them all
    and the audit read by student (an adapter written against the required contract
    only: the engine then reads the whole audit log).
    """

    def __init__(
        self,
        inner: StorageAdapter,
        fail_on: Callable[[int], bool] = lambda n: False,
        *,
        error: Callable[[], Exception] = lambda: StorageError("injected write failure"),
        commit_fails: Callable[[int], bool] = lambda k: False,
        bulk: str = "use",
    ) -> None:
        assert bulk in BULK_MODES, bulk
        self.bulk = bulk
        self.bulk_failures = 0
        super().__init__(inner)
        self.fail_on = fail_on
        self.error = error
        self.commit_fails = commit_fails
        self.writes = 0
        self.calls: list[str] = []  # the method of each counted write, in order
        self.transactions = 0
        self.failures = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        self.transactions += 1
        number = self.transactions
        with self.inner.transaction() as tx:
            yield _FaultyTransaction(tx, self)
            if self.commit_fails(number):
                self.failures += 1
                raise self.error()


class _FaultyTransaction:
    def __init__(self, tx: Any, owner: FaultyStorage) -> None:
        self._tx = tx
        self._owner = owner
        hidden = {
            "hide": {Capability.BULK_READS, Capability.BULK_WRITES, Capability.AUDIT_LOOKUP},
            "reads": {Capability.BULK_WRITES},
        }.get(owner.bulk, set())
        self.capabilities = capabilities_of(tx) - hidden  # what it offers, it declares

    def __getattr__(self, name: str) -> Any:
        owner = self._owner
        hidden = (
            BULK_READS + ACCOUNT_BULK_READS + OPTIONAL_READS if owner.bulk == "hide" else ()
        ) + (BULK_WRITES + ACCOUNT_BULK_WRITES if owner.bulk in ("hide", "reads") else ())
        if name in hidden:
            raise AttributeError(name)
        method = getattr(self._tx, name)
        if name not in WRITE_METHODS:
            return method
        if owner.bulk == "fail" and name in BULK_WRITES + ACCOUNT_BULK_WRITES:

            def refuse(*args: Any, **kwargs: Any) -> Any:
                owner.bulk_failures += 1
                raise StorageError("injected batch-level write failure")

            return refuse

        def write(*args: Any, **kwargs: Any) -> Any:
            owner.writes += 1
            owner.calls.append(name)
            if owner.fail_on(owner.writes):
                owner.failures += 1
                raise owner.error()
            return method(*args, **kwargs)

        return write


def applied_subset(plan: MergePlan, storage: StorageAdapter) -> MergePlan:
    """The plan reduced to the merges ``storage`` shows as applied (same fingerprint)."""
    from merge_engine.applying._apply import plan_fingerprint  # noqa: PLC0415

    fp = plan_fingerprint(plan)
    with storage.transaction() as tx:
        done = {
            m.archived_id
            for m in plan.merges
            if (e := tx.journal(fp, m.archived_id)) is not None and not e.undone
        }
    return attrs.evolve(plan, merges=[m for m in plan.merges if m.archived_id in done])


def all_auto(plan: MergePlan, ids: Iterable[str]) -> MergePlan:
    """The plan with the merges of ``ids`` marked auto (so a sub-plan applies them)."""
    wanted = set(ids)
    return attrs.evolve(
        plan,
        merges=[attrs.evolve(m, decision="auto") if m.archived_id in wanted else m
                for m in plan.merges],
    )  # fmt: skip


def tiny_rosters() -> tuple[Roster, Roster]:
    """Three archived and three synced students with guardians (ids only matter here)."""
    from merge_engine.model import Contact, Student  # noqa: PLC0415

    def student(sid: str, first: str, *guardians: str) -> Student:
        return Student(
            id=sid, first_name=first, last_name="Tester", grade=3, school_id="sch1",
            contacts=[Contact(g, relationship="Parent") for g in guardians],
        )  # fmt: skip

    archived = Roster([student("a1", "Ann", "ga1", "ga2"), student("a2", "Bea", "ga3"),
                       student("a3", "Cy")])  # fmt: skip
    synced = Roster([student("s1", "Ann", "gs1"), student("s2", "Bea", "ga3"),
                     student("s3", "Cy")])  # fmt: skip
    return archived, synced


TINY_ROWS: Rows = {
    "messages": [
        {"id": 1, "student_id": "a1", "sent_at": "2024-01-01T08:00:00", "body": "m1"},
        {"id": 2, "student_id": "a1", "sent_at": "2024-01-02T08:00:00", "body": "m2"},
        {"id": 3, "student_id": "s1", "sent_at": "2024-10-01T08:00:00", "body": "m3"},
    ],
    "notes": [{"id": 4, "student_id": "a1", "created_at": "2024-01-03", "body": "n1"}],
    "attendance": [
        {"id": 10, "student_id": "a1", "day": DAYS[0], "status": "present"},
        {"id": 11, "student_id": "a1", "day": DAYS[1], "status": "present"},
        {"id": 20, "student_id": "s1", "day": DAYS[0], "status": "absent"},
        {"id": 12, "student_id": "a2", "day": DAYS[2], "status": "present"},
    ],
}


def tiny_storage(tables: Sequence[HistoryTable] | None = None) -> InMemoryStorage:
    archived, synced = tiny_rosters()
    return memory_storage(District(archived, synced, TINY_ROWS), tables)


def hand_plan(
    storage: StorageAdapter,
    pairs: Sequence[tuple[str, str]],
    *,
    review: Iterable[str] = (),
    tag: str = "tiny",
) -> MergePlan:
    """A plan of exactly these (archived, synced) merges, hashed against ``storage`` now."""
    from merge_engine.plan import Merge  # noqa: PLC0415

    archived, synced = storage.read_roster("archived"), storage.read_roster("synced")
    by_id = {s.id: s for s in (*archived.students, *synced.students)}
    review = set(review)
    merges = [
        Merge(a, s, 0.99, "review" if a in review else "auto", 20.0, None, (),
              **record_hashes(by_id[a], by_id[s]))
        for a, s in pairs
    ]  # fmt: skip
    return MergePlan(
        merges=merges,
        unmatched_archived=[s.id for s in archived.students if s.id not in {a for a, _ in pairs}],
        unmatched_synced=[s.id for s in synced.students if s.id not in {s for _, s in pairs}],
        warnings=(),
        settings={},
        model={},
        stats={"archived_students": len(archived), "synced_students": len(synced)},
        fingerprint={"archived": tag + "-a", "synced": tag + "-s"},
    )


def nonzero(**counts: int) -> dict[str, int]:
    """Expected report counts: statuses with no merge are not listed by ``ApplyReport.counts``."""
    return {status: n for status, n in counts.items() if n}


def start_lock_holder(script: str, *args: str) -> subprocess.Popen[str]:
    """Start ``script`` (which takes a plan's lock and prints ``locked``) and wait until it
    holds the lock; the caller kills it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert "locked" == holder.stdout.readline().strip()
    return holder


def run_both(*jobs: Callable[[], ApplyReport]) -> list[ApplyReport]:
    """Run the jobs in threads released together by a barrier; re-raise any error."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def runner(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except BaseException as exc:  # reported below, in the main thread
            results[i] = exc

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def assert_each_applied_once(
    storage: StorageAdapter, plan: MergePlan, sig: Counter[str], *plans: MergePlan
) -> None:
    applies = Counter(r.archived_id for r in audit_history(storage) if r.action == "apply")
    assert {m.archived_id: 1 for m in plan.auto} == dict(applies)
    assert sig == signature(storage, plan, plans)
    with storage.transaction() as tx:
        tables = [t.name for t in tx.history_tables()]
        for m in plan.auto:
            assert [r for t in tables for r in tx.history_rows(t, m.archived_id)] == []
