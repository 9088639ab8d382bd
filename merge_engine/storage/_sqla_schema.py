"""The reference schema as SQLAlchemy tables, for PostgreSQL and other databases.

Same tables and columns as the SQLite DDL in :mod:`.schema`, with native
types where the database has them (``DATE`` birth dates, ``TIMESTAMPTZ``
history timestamps). The journal and audit tables keep text values so an
entry reads back byte for byte on any database.
"""

from __future__ import annotations

import sqlalchemy as sa

from .schema import check_identifier

__all__ = ["bookkeeping_tables", "create_reference_schema", "reference_metadata"]


def _student_fk(schema: str | None) -> str:
    return f"{schema}.students.id" if schema else "students.id"


def _history(md: sa.MetaData, name: str, schema: str | None, *columns: sa.Column[object]) -> None:
    sa.Table(
        name,
        md,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("student_id", sa.Text, sa.ForeignKey(_student_fk(schema)), nullable=False),
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
    sa.Table(
        "guardians",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Text) for name in guardians),
    )
    gid = f"{schema}.guardians.id" if schema else "guardians.id"
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
    for name in ("messages", "notes", "backpack_items"):
        sa.Index(f"{name}_student", md.tables[_key(name, schema)].c.student_id)
    attendance = md.tables[_key("attendance", schema)]
    attendance.append_constraint(sa.UniqueConstraint("student_id", "day"))
    bookkeeping_tables(md)
    return md


def _key(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


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
    return journal_table, audit_table


def create_reference_schema(engine: sa.Engine, *, schema: str | None = None) -> None:
    """Create the reference schema's tables (and the PostgreSQL ``schema``) if missing."""
    md = reference_metadata(schema)
    with engine.begin() as conn:
        if schema is not None:
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        md.create_all(conn, checkfirst=True)
