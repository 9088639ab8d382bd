"""The reference schema as SQLAlchemy tables, for PostgreSQL and other databases.

Same tables and columns as the SQLite DDL in :mod:`.schema`, with native
types where the database has them (``DATE`` birth dates, ``TIMESTAMPTZ``
history timestamps). The journal and audit tables keep text values so an
entry reads back byte for byte on any database.

:func:`reflect` checks that the mapped tables exist; a database made by an
earlier release, which lacks the account tables, is told exactly what to add
(a platform's tables only when an account method needs what is missing).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa

from ..exceptions import MappingError
from ._mapping import AccountLinkTable, StorageMapping
from ._schema import DEFAULT_GUARDIAN_HISTORY_TABLES, check_identifier

__all__ = [
    "Gaps",
    "account_links_table",
    "add_column_ddl",
    "added_tables",
    "bookkeeping_tables",
    "create_reference_schema",
    "find_column",
    "reference_metadata",
    "reflect",
    "upgrade_message",
]


def _student_fk(schema: str | None) -> str:
    return f"{schema}.students.id" if schema else "students.id"


def _history(
    md: sa.MetaData,
    name: str,
    schema: str | None,
    *columns: sa.Column[object],
    owner: tuple[str, str] = ("student_id", "students"),
) -> None:
    """A history table: an identity key and the owner column (a student's, or a guardian's)."""
    column, table = owner
    sa.Table(
        name,
        md,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column(column, sa.Text, sa.ForeignKey(_key(f"{table}.id", schema)), nullable=False),
        *columns,
    )


def reference_metadata(schema: str | None = None) -> sa.MetaData:
    """Every reference-schema table (roster, history, journal, audit) in ``schema``."""
    if schema is not None:
        check_identifier(schema, "schema")
    md = sa.MetaData(schema=schema)
    sid = _student_fk(schema)
    sa.Table(
        "students",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("archived", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("merged_into", sa.Text, sa.ForeignKey(sid), nullable=True, index=True),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("middle_name", sa.Text),
        sa.Column("last_name", sa.Text, nullable=False),
        sa.Column("dob", sa.Date),
        sa.Column("grade", sa.Integer),
        *(
            sa.Column(name, sa.Text)
            for name in (
                "gender",
                "school_id",
                "sis_id",
                "state_id",
                "student_number",
                "email",
                "street",
                "city",
                "state",
                "zip",
            )
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("archived IN (0, 1)", name="students_archived_flag"),
        sa.Index("students_archived", "archived", "merged_into"),
    )
    guardians = ("first_name", "last_name", "email", "phone", "sis_id")
    gid = f"{schema}.guardians.id" if schema else "guardians.id"
    sa.Table(
        "guardians",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Text) for name in guardians),
        # Indexed: every guardian deleted or re-keyed is checked against it (self-reference).
        sa.Column("merged_into", sa.Text, sa.ForeignKey(gid), nullable=True, index=True),
    )
    sa.Table(
        "student_guardians",
        md,
        sa.Column("student_id", sa.Text, sa.ForeignKey(sid), primary_key=True),
        sa.Column("guardian_id", sa.Text, sa.ForeignKey(gid), primary_key=True, index=True),
        sa.Column("relationship", sa.Text),
        sa.Column("contact_order", sa.Integer, nullable=False, server_default="0"),
    )
    sa.Table(
        "staff",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("archived", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("last_name", sa.Text, nullable=False),
        *(sa.Column(name, sa.Text) for name in ("email", "phone", "school_id", "sis_id")),
    )
    stamp = sa.DateTime(timezone=True)
    _history(
        md,
        "messages",
        schema,
        sa.Column("sent_at", stamp, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    _history(
        md,
        "notes",
        schema,
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    _history(
        md,
        "attendance",
        schema,
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
    )
    _history(
        md,
        "backpack_items",
        schema,
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("added_at", stamp, nullable=False),
    )
    _history(
        md,
        "guardian_messages",
        schema,
        sa.Column("sent_at", stamp, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        owner=("guardian_id", "guardians"),
    )
    for name in ("messages", "notes", "backpack_items"):
        sa.Index(f"{name}_student", md.tables[_key(name, schema)].c.student_id)
    attendance = md.tables[_key("attendance", schema)]
    attendance.append_constraint(sa.UniqueConstraint("student_id", "day"))
    messages = md.tables[_key("guardian_messages", schema)]
    sa.Index("guardian_messages_guardian", messages.c.guardian_id)
    account_links_table(md, AccountLinkTable())
    bookkeeping_tables(md)
    return md


def _key(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


def account_links_table(md: sa.MetaData, spec: AccountLinkTable) -> sa.Table:
    """The multiple-role link table in ``md``, with the column names of ``spec``."""
    kind, mode = sa.column(spec.kind, sa.Text), sa.column(spec.mode, sa.Text)
    table = sa.Table(
        spec.table,
        md,
        sa.Column(spec.kind, sa.Text, primary_key=True),
        sa.Column(spec.first_id, sa.Text, primary_key=True),
        sa.Column(spec.second_id, sa.Text, primary_key=True),
        sa.Column(spec.mode, sa.Text, nullable=False, server_default="link"),
        sa.CheckConstraint(
            kind.in_(["staff_guardian", "guardian_guardian"]), name=f"{spec.table}_kind"
        ),
        sa.CheckConstraint(mode.in_(["link", "merge"]), name=f"{spec.table}_mode"),
    )
    sa.Index(f"{spec.table}_second", table.c[spec.second_id])
    return table


def bookkeeping_tables(
    md: sa.MetaData, journal: str = "merge_journal", audit: str = "merge_audit"
) -> tuple[sa.Table, sa.Table]:
    """The journal and audit tables in ``md`` (created by the adapter whenever missing)."""
    check_identifier(journal, "journal_table")
    check_identifier(audit, "audit_table")
    journal_table = sa.Table(
        journal,
        md,
        sa.Column("plan_fingerprint", sa.Text, primary_key=True),
        sa.Column("archived_id", sa.Text, primary_key=True),
        sa.Column("synced_id", sa.Text, nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("undone", sa.SmallInteger, nullable=False, server_default="0"),
    )
    audit_table = sa.Table(
        audit,
        md,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("plan_fingerprint", sa.Text, nullable=False),
        sa.Column("archived_id", sa.Text, nullable=False),
        sa.Column("synced_id", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("rows", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    sa.Index(f"{audit}_archived_id", audit_table.c.archived_id)
    return journal_table, audit_table


def create_reference_schema(engine: sa.Engine, *, schema: str | None = None) -> None:
    """Create the reference schema's tables (and the PostgreSQL ``schema``) if missing.

    A database created by an earlier release is brought up to date: missing
    tables are created, ``guardians.merged_into`` is added, and the indexes an
    earlier release did not make (``guardians.merged_into``'s) are created.
    """
    md = reference_metadata(schema)
    with engine.begin() as conn:
        if schema is not None:
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        md.create_all(conn, checkfirst=True)
        guardians = md.tables[_key("guardians", schema)]
        _add_guardian_merged_into(conn, guardians)
        for index in guardians.indexes:
            index.create(conn, checkfirst=True)


def add_column_ddl(dialect: sa.Dialect, column: sa.Column[Any], *, if_not_exists: bool) -> str:
    """``ALTER TABLE ... ADD COLUMN`` for one column of a reference table, for ``dialect``."""
    prep = dialect.identifier_preparer
    text = f"{prep.quote(column.name)} {column.type.compile(dialect=dialect)}"
    for fk in column.foreign_keys:
        target = fk.column
        text += f" REFERENCES {prep.format_table(target.table)} ({prep.quote(target.name)})"
    guard = " IF NOT EXISTS" if if_not_exists else ""
    return f"ALTER TABLE {prep.format_table(column.table)} ADD COLUMN{guard} {text}"


def _add_guardian_merged_into(conn: sa.Connection, guardians: sa.Table) -> None:
    """Add the column if missing (looked up first: ALTER TABLE locks the table even when the
    column exists; IF NOT EXISTS, on PostgreSQL, covers a concurrent upgrade)."""
    column = guardians.c.merged_into
    present = sa.inspect(conn).get_columns(guardians.name, schema=guardians.schema)
    if column.name not in {c["name"] for c in present}:
        guarded = conn.dialect.name == "postgresql"
        conn.exec_driver_sql(add_column_ddl(conn.dialect, column, if_not_exists=guarded))


def reflect(engine: sa.Engine, mapping: StorageMapping) -> tuple[dict[str, sa.Table], Gaps]:
    """Reflect every mapped table; raise :class:`MappingError` for a missing one.

    What guardian merges added (account links, guardian history,
    ``guardians.merged_into``) may be missing from a database made by an
    earlier release. With the reference mapping that is an error saying
    exactly what to add. A platform's tables keep serving student merges:
    the gaps are returned (setting -> message) for the account methods to
    raise when they need what is missing.
    """
    md = sa.MetaData(schema=mapping.schema)
    tables: dict[str, sa.Table] = {}
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names(schema=mapping.schema))
        missing = [n for n in mapping.table_names() if n not in names]
        new = added_tables(mapping)
        for name in missing:
            if name not in new:
                where = f" in schema {mapping.schema!r}" if mapping.schema else ""
                raise MappingError(
                    f"table {name!r} not found{where}; create it (create=True makes the reference "
                    "schema) or fix the mapping"
                )
        for name in mapping.table_names():
            if name in names:
                tables[name] = sa.Table(name, md, autoload_with=conn, resolve_fks=False)
        g = mapping.guardians
        guardians = tables[g.table]
        lacks = g.merged_into is not None and find_column(guardians, g.merged_into) is None
        gaps = _gaps(conn.dialect, mapping, missing, guardians if lacks else None)
    if gaps and mapping.is_reference:
        raise MappingError(upgrade_message(mapping, gaps))
    return tables, {gap.key: upgrade_message(mapping, [gap]) for gap in gaps}


def find_column(table: sa.Table, name: str) -> sa.Column[Any] | None:
    """The column ``name`` of ``table`` (exact name first, then case-insensitively)."""
    column = table.c.get(name)
    if column is None:
        folded = {c.name.casefold(): c for c in table.c}
        column = folded.get(name.casefold())
    return column


def added_tables(mapping: StorageMapping) -> frozenset[str]:
    """The mapped tables that databases made before guardian merges do not have."""
    names = [t.name for t in mapping.guardian_history]
    if mapping.account_links is not None:
        names.append(mapping.account_links.table)
    return frozenset(names)


#: What a database lacks, per mapping setting (``guardians.merged_into``,
#: ``account_links``, ``guardian_history <name>``): the message saying what to add.
Gaps = dict[str, str]


class _Gap(NamedTuple):
    key: str  # the mapping setting naming what is missing
    lead: str  # what is missing, as the error's first words
    needed: str
    ddl: tuple[str, ...]  # the statements (or, for a platform's own table, words) adding it
    opt_out: str  # the mapping setting that goes without it
    creatable: bool  # create=True adds it


def _ddl(dialect: sa.Dialect, table: sa.Table) -> tuple[str, ...]:
    statements: list[sa.schema.ExecutableDDLElement] = [sa.schema.CreateTable(table)]
    statements += [
        sa.schema.CreateIndex(i) for i in sorted(table.indexes, key=lambda i: str(i.name))
    ]
    return tuple(" ".join(str(ddl.compile(dialect=dialect)).split()) for ddl in statements)


def _gaps(
    dialect: sa.Dialect, mapping: StorageMapping, missing: list[str], guardians: sa.Table | None
) -> list[_Gap]:
    """What to add for the ``missing`` tables, and ``guardians.merged_into`` when
    ``guardians`` (the reflected table lacking it) is given."""
    schema, g = mapping.schema, mapping.guardians
    reference = reference_metadata(schema)
    where = f" in schema {schema!r}" if schema else ""
    gaps = []
    for name in missing:
        lead, needed = f"table {name!r} not found{where}", f"table {name!r}"
        spec = next((t for t in mapping.guardian_history if t.name == name), None)
        if spec is None:  # the account link table
            links = mapping.account_links
            assert links is not None
            ddl = _ddl(dialect, account_links_table(sa.MetaData(schema=schema), links))
            creatable = links == AccountLinkTable()
            gaps.append(
                _Gap("account_links", lead, needed, ddl, "account_links = false", creatable)
            )
            continue
        out = f"leave {name!r} out of guardian_history"
        if spec in DEFAULT_GUARDIAN_HISTORY_TABLES and (g.table, g.id) == ("guardians", "id"):
            ddl, creatable = _ddl(dialect, reference.tables[_key(name, schema)]), True
        else:
            key = ", ".join(spec.primary_key)
            words = (
                f"a table {name} with primary key ({key}) and a column {spec.student_column} "
                f"holding {g.table}.{g.id} values"
            )
            ddl, creatable = (words,), False
        gaps.append(_Gap(f"guardian_history {name}", lead, needed, ddl, out, creatable))
    if guardians is not None and g.merged_into is not None:
        id_column = find_column(guardians, g.id)
        id_type = id_column.type if id_column is not None else sa.Text()
        table = sa.Table(
            g.table, sa.MetaData(schema=schema), sa.Column(g.id, id_type, primary_key=True)
        )
        column = sa.Column(g.merged_into, id_type, sa.ForeignKey(table.c[g.id]))
        table.append_column(column)
        lead = f"table {g.table!r} has no column {g.merged_into!r}"
        gaps.append(
            _Gap(
                "guardians.merged_into",
                f"{lead} (named by guardians.merged_into)",
                f"column {g.table}.{g.merged_into}",
                (add_column_ddl(dialect, column, if_not_exists=False),),
                "guardians.merged_into = false",
                True,
            )
        )
    return gaps


def upgrade_message(mapping: StorageMapping, gaps: list[_Gap]) -> str:
    """One error naming every gap, the statements adding them, and how to go without."""
    creatable = mapping.is_reference and all(gap.creatable for gap in gaps)
    create = "open the storage once with create=True, or " if creatable else ""
    needed = ", ".join(gap.needed for gap in gaps)
    ddl = "; ".join(statement for gap in gaps for statement in gap.ddl)
    opt_out = "; ".join(gap.opt_out for gap in gaps)
    return (
        f"{gaps[0].lead}: the database predates guardian merges and multiple-role links, which "
        f"need {needed}; {create}add what is missing with: {ddl}; or, to go without (guardian "
        f"merges and multiple-role links then cannot be applied), set in the mapping: {opt_out}"
    )
