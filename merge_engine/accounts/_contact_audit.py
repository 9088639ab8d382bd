"""Contact data quality audit, before or after a sync.

Clever does not validate guardian contacts, and a guardian without a SIS
id gets a new account whenever their details change. This audit lists,
by id only, what will cause duplicate or missing accounts: guardians
without a SIS id, one adult appearing as several contacts with conflicting
details, contacts the platform cannot reach (invalid email or phone, or
no email and no phone that can receive texts), students without any
guardian, staff whose guardian role will get a separate account, and,
when the archived roster is given, archived students with no plausible
synced counterpart. Audited from a database, it also reports history rows
stranded on merged archived students (written to the old id after its
merge; see :mod:`merge_engine.applying._sweep`), so an admin sees them before
re-running apply, which moves them on.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from attrs import field, frozen

from ..matching._normalize import is_valid_email, is_valid_phone, normalize_phone
from ..model import Roster
from ..plan import MergePlan
from ._guardians import guardian_accounts
from ._roles import find_multiple_roles


class _Stranded(Protocol):
    """A merged archived student holding late history (``applying.sweep.StrandedRecord``)."""

    @property
    def archived_id(self) -> str: ...
    @property
    def synced_id(self) -> str: ...
    @property
    def school_id(self) -> str: ...
    @property
    def rows(self) -> Mapping[str, int]: ...


__all__ = ["AuditFinding", "AuditReport", "audit_contacts"]

ISSUES = {
    "guardian_without_sis_id": "guardian without a SIS id (gets a new account when details change)",
    "conflicting_contacts": "one adult as several contacts with conflicting email or phone",
    "invalid_email": "contact email is not a valid address",
    "invalid_phone": "contact phone is not a valid number",
    "unreachable_contact": "contact has neither an email nor a phone that can receive texts",
    "student_without_guardian": "student without any guardian contact",
    "staff_guardian_conflict": "staff member who is also a guardian, with differing details",
    "archived_without_counterpart": "archived student with no plausible synced counterpart",
}
"""Finding kinds and what each means."""

STRANDED = "stranded_history"
DB_ISSUES = {
    STRANDED: "merged archived student holding history written after its merge (re-run apply)",
}
"""Finding kinds only a database can show (reported when the audit read one)."""


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@frozen
class AuditFinding:
    """One finding: its kind, the record it is about, the school, and non-PII detail."""

    issue: str
    record_id: str
    school_id: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "issue": self.issue,
            "record_id": self.record_id,
            "school_id": self.school_id,
            "detail": self.detail,
        }


def _sorted_counts(value: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(value.items()))


@frozen
class AuditReport:
    """All findings, with counts per kind and per school."""

    findings: tuple[AuditFinding, ...] = field(converter=_tuple)
    students: int
    guardians: int
    staff: int
    #: Whether the database was searched for stranded history (``merge-engine audit --db``).
    stranded_checked: bool = False
    #: Stranded history rows per table (ids and counts only; see ``stranded_history`` findings).
    stranded_rows: Mapping[str, int] = field(factory=dict, converter=_sorted_counts)

    def counts(self) -> dict[str, int]:
        counted = Counter(f.issue for f in self.findings)
        kinds = [*ISSUES, *(DB_ISSUES if self.stranded_checked else ())]
        return {issue: counted.get(issue, 0) for issue in kinds}

    def by_school(self, issue: str) -> dict[str, int]:
        counted = Counter(f.school_id for f in self.findings if f.issue == issue)
        return dict(sorted(counted.items()))

    def __repr__(self) -> str:
        return f"<AuditReport {len(self.findings)} findings over {self.guardians} guardians>"

    def _repr_html_(self) -> str:
        from ..views._notebook import audit_html  # noqa: PLC0415

        return audit_html(self)

    def summary(self) -> str:
        """A readable terminal summary."""
        lines = [
            f"Contact audit: {self.students} students, {self.guardians} guardian accounts, "
            f"{self.staff} staff"
        ]
        for issue, count in self.counts().items():
            lines.append(f"  {count:>7}  {ISSUES.get(issue) or DB_ISSUES[issue]}")
        if self.stranded_rows:
            rows = ", ".join(f"{t} {n}" for t, n in sorted(self.stranded_rows.items()))
            lines.append(f"  stranded history rows per table: {rows}")
        schools = self.by_school("guardian_without_sis_id")
        if schools:
            lines.append("  guardians without a SIS id, per school:")
            lines += [f"    {school or '(none)':<16} {n:>6}" for school, n in schools.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "students": self.students,
            "guardians": self.guardians,
            "staff": self.staff,
            "counts": self.counts(),
            "guardians_without_sis_id_by_school": self.by_school("guardian_without_sis_id"),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.stranded_checked:
            out["stranded_history_by_table"] = dict(self.stranded_rows)
        return out

    def to_csv(self) -> str:
        """RFC 4180 CSV; cells that a spreadsheet would run as a formula are escaped."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["issue", "record_id", "school_id", "detail"])
        for f in self.findings:
            writer.writerow(
                [_cell(f.issue), _cell(f.record_id), _cell(f.school_id), _cell(f.detail)]
            )
        return out.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def _cell(value: str) -> str:
    """Prefix a quote to cells a spreadsheet would treat as a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _textable(phone: str | None) -> bool:
    if not is_valid_phone(phone):
        return False
    import phonenumbers  # noqa: PLC0415

    kind = phonenumbers.number_type(phonenumbers.parse(normalize_phone(phone), "US"))
    return kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def audit_contacts(
    synced: Roster,
    archived: Roster | None = None,
    plan: MergePlan | None = None,
    stranded: Sequence[_Stranded] | None = None,
) -> AuditReport:
    """Audit the contacts of a roster (read-only). ``plan`` supplies unmatched archived ids.

    ``stranded``: the database's merged archived students holding late history
    (:func:`merge_engine.applying._sweep.stranded_history`); ``None`` when no database was read.
    """
    findings: list[AuditFinding] = []
    school_of_guardian: dict[str, str] = {}
    emails: dict[str, set[str]] = {}
    phones: dict[str, set[str]] = {}
    for student in synced.students:
        if not student.contacts:
            findings.append(
                AuditFinding("student_without_guardian", student.id, student.school_id or "")
            )
        for c in student.contacts:
            school_of_guardian.setdefault(c.guardian_id, student.school_id or "")
            if c.email:
                emails.setdefault(c.guardian_id, set()).add(c.email)
            if c.phone:
                phones.setdefault(c.guardian_id, set()).add(c.phone)
    accounts = guardian_accounts(synced)
    for gid, account in accounts.items():
        school = school_of_guardian.get(gid, "")
        mails = sorted(emails.get(gid, ()))
        numbers = sorted(phones.get(gid, ()))
        if not account.sis_id:
            findings.append(AuditFinding("guardian_without_sis_id", gid, school))
        if any(not is_valid_email(e) for e in mails):
            findings.append(AuditFinding("invalid_email", gid, school))
        if any(not is_valid_phone(p) for p in numbers):
            findings.append(AuditFinding("invalid_phone", gid, school))
        if not any(is_valid_email(e) for e in mails) and not any(_textable(p) for p in numbers):
            findings.append(AuditFinding("unreachable_contact", gid, school))
    for link in find_multiple_roles(synced):
        if link.verdict != "same_person" or not link.differs:
            continue
        issue = (
            "staff_guardian_conflict" if link.kind == "staff_guardian" else "conflicting_contacts"
        )
        findings.append(
            AuditFinding(
                issue,
                link.first_id,
                school_of_guardian.get(
                    link.first_id if link.kind == "guardian_guardian" else link.second_id, ""
                ),
                f"same adult as {link.second_id}; differs in {', '.join(link.differs)}",
            )
        )
    if plan is not None and archived is not None:
        schools = {s.id: s.school_id or "" for s in archived.students}
        findings += [
            AuditFinding("archived_without_counterpart", sid, schools.get(sid, ""))
            for sid in plan.unmatched_archived
        ]
    stranded_rows: Counter[str] = Counter()
    for rec in stranded or ():
        stranded_rows.update(rec.rows)
        counts = ", ".join(f"{t} {n}" for t, n in sorted(rec.rows.items()))
        detail = f"merged into {rec.synced_id}; rows written since: {counts}"
        findings.append(AuditFinding(STRANDED, rec.archived_id, rec.school_id, detail))
    order = [*ISSUES, *DB_ISSUES]
    findings.sort(key=lambda f: (order.index(f.issue), f.school_id, f.record_id))
    return AuditReport(
        findings,
        len(synced.students),
        len(accounts),
        len(synced.staff),
        stranded_checked=stranded is not None,
        stranded_rows=dict(stranded_rows),
    )
