"""The review sheet: one row per decision, the two records side by side, with names.

This is an admin-facing view, so it shows names, birth dates and contact
details (the plan alone holds ids only; the rosters supply the rest). A
cell that a spreadsheet would run as a formula is written with a leading
single quote (the OWASP CSV-injection convention), and
:func:`unescape_cell` takes it off again on import.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from ..exceptions import MissingDependencyError
from ..model import Contact, Roster, StaffMember, Student
from ..plan import Competitor, MergePlan
from ..readers._values import GRADE_NAMES
from ._items import ReviewItem, review_items

__all__ = [
    "COLUMNS",
    "Directory",
    "escape_cell",
    "named_ids",
    "review_rows",
    "unescape_cell",
    "write_review_sheet",
]

#: Characters that make a spreadsheet read a cell as a formula (and the quote itself,
#: so that escaping can be undone without guessing).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")

SIDE = ("id", "name", "birth_date", "grade", "school", "guardians")
COLUMNS: tuple[str, ...] = (
    "decision", "kind", "approval_id", "reason", "confidence", "differs", "reasons",
    *(f"left_{c}" for c in SIDE), *(f"right_{c}" for c in SIDE), "record_hash",
)  # fmt: skip
DECISION_HELP = "approve / reject / blank"


def escape_cell(value: str) -> str:
    """``value`` safe to open in a spreadsheet: a leading quote if it starts like a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def unescape_cell(value: str) -> str:
    """The value :func:`escape_cell` was given (values it left alone come back unchanged)."""
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        return value[1:]
    return value


@frozen
class Directory:
    """Who is behind each id: students, guardian accounts (with their children) and staff."""

    students: Mapping[str, Student]
    guardians: Mapping[str, Contact]
    children: Mapping[str, tuple[str, ...]]
    staff: Mapping[str, StaffMember]

    @classmethod
    def of(cls, *rosters: Roster, only: Collection[str] | None = None) -> Directory:
        """Everyone in ``rosters``; with ``only``, just those ids and the children of the
        guardian accounts among them (a review sheet names a few thousand people of a
        district's hundreds of thousands, so a view need not keep the rest)."""
        students: dict[str, Student] = {}
        guardians: dict[str, Contact] = {}
        children: dict[str, list[str]] = {}
        staff: dict[str, StaffMember] = {}
        for roster in rosters:
            for s in roster.students:
                for c in s.contacts:
                    if only is None or c.guardian_id in only:
                        guardians.setdefault(c.guardian_id, c)
                        children.setdefault(c.guardian_id, []).append(s.id)
            wanted = None if only is None else {k for v in children.values() for k in v}
            for s in roster.students:
                if only is None or s.id in only or (wanted is not None and s.id in wanted):
                    students.setdefault(s.id, s)
            for member in roster.staff:
                if only is None or member.id in only:
                    staff.setdefault(member.id, member)
        return cls(students, guardians, {g: tuple(v) for g, v in children.items()}, staff)

    def __or__(self, other: Directory) -> Directory:
        """Both directories (this one's entries first); a guardian's children from both."""
        children = {g: list(v) for g, v in self.children.items()}
        for g, kids in other.children.items():
            children.setdefault(g, []).extend(kids)
        return Directory(
            {**other.students, **self.students},
            {**other.guardians, **self.guardians},
            {g: tuple(v) for g, v in children.items()},
            {**other.staff, **self.staff},
        )

    def name(self, record_id: str) -> str:
        """A readable name for any id, or ``""`` when the rosters do not hold it."""
        if (s := self.students.get(record_id)) is not None:
            return _join(s.first_name, s.middle_name, s.last_name)
        if (c := self.guardians.get(record_id)) is not None:
            return _join(c.first_name, c.last_name)
        if (m := self.staff.get(record_id)) is not None:
            return _join(m.first_name, m.last_name)
        return ""

    def named(self, record_id: str) -> str:
        """``id (name)``, or the id alone when the name is unknown."""
        name = self.name(record_id)
        return f"{record_id} ({name})" if name else record_id


EMPTY = Directory({}, {}, {}, {})


def _join(*parts: str | None) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def grade_name(grade: int | None) -> str:
    if grade is None:
        return ""
    return GRADE_NAMES.get(grade, str(grade))


def _contact_text(c: Contact) -> str:
    details = ", ".join(x for x in (c.relationship, c.email, c.phone) if x)
    name = _join(c.first_name, c.last_name) or "(no name)"
    return f"{name} [{c.guardian_id}]" + (f" ({details})" if details else "")


def _side(record_id: str, people: Directory) -> dict[str, str]:
    """The sheet's cells for one record: a student, a guardian account or a staff member."""
    out = dict.fromkeys(SIDE, "")
    out["id"] = record_id
    out["name"] = people.name(record_id)
    if (s := people.students.get(record_id)) is not None:
        out["birth_date"] = s.dob.isoformat() if s.dob else ""
        out["grade"] = grade_name(s.grade)
        out["school"] = s.school_id or ""
        out["guardians"] = "; ".join(_contact_text(c) for c in s.contacts)
    elif (c := people.guardians.get(record_id)) is not None:
        kids = ", ".join(people.named(k) for k in people.children.get(record_id, ()))
        out["guardians"] = _contact_text(c) + (f"; children: {kids}" if kids else "")
    elif (m := people.staff.get(record_id)) is not None:
        details = ", ".join(x for x in ("staff", m.email, m.phone) if x)
        out["school"] = m.school_id or ""
        out["guardians"] = f"{people.name(record_id)} [{m.id}] ({details})"
    return out


_LEVEL_WORDS: Mapping[tuple[str, str], str] = {
    ("first_name", "nickname"): "given name is a nickname",
    ("first_name", "middle"): "given name matches the middle name",
    ("first_name", "swapped"): "given name and surname swapped",
    ("first_name", "close"): "given names differ by a typo",
    ("first_name", "similar"): "given names only loosely similar",
    ("first_name", "initial"): "given name only an initial",
    ("first_name", "different"): "given names differ",
    ("middle_name", "initial"): "middle name only an initial",
    ("middle_name", "different"): "middle names differ",
    ("last_name", "compound"): "surname is part of a compound surname",
    ("last_name", "swapped"): "surname and given name swapped",
    ("last_name", "close"): "surnames differ by a typo",
    ("last_name", "different"): "surnames differ",
    ("dob", "day_month_swap"): "birth day and month swapped",
    ("dob", "one_digit"): "birth dates differ by one digit",
    ("dob", "different"): "birth dates differ",
    ("grade", "adjacent"): "grade not the expected one",
    ("grade", "different"): "grades differ by more than a year",
    ("school", "level_change"): "moved to another school level",
    ("school", "different"): "another school",
    ("gender", "different"): "genders differ",
    ("identifier", "one_edit"): "student ids differ by one character",
    ("identifier", "different"): "student ids differ",
    ("guardian", "name_only"): "guardians agree by name only",
    ("guardian", "given_name"): "a guardian's given name agrees, nothing else",
    ("guardian", "none_shared"): "no guardian in common",
    ("address", "close"): "addresses nearly the same",
    ("address", "zip_only"): "only the zip code agrees",
    ("address", "different"): "addresses differ",
}
_VALUES: Mapping[str, str] = {
    "first_name": "first_name", "middle_name": "middle_name", "last_name": "last_name",
    "dob": "dob", "grade": "grade", "school": "school_id", "gender": "gender",
}  # fmt: skip
_AGREE = frozenset({"missing", "exact", "same", "expected", "phone_and_email", "phone_or_email"})


def differs(item: ReviewItem, people: Directory = EMPTY) -> str:
    """What differs between the two records, in words (with the values when known)."""
    if item.merge is None:
        return "; ".join(item.differs) or "nothing"
    a = people.students.get(item.left_id)
    b = people.students.get(item.right_id)
    words = []
    for e in item.merge.evidence:
        text = _LEVEL_WORDS.get((e.comparison, e.level))
        if text is None:
            if e.level not in _AGREE and e.comparison in _VALUES:
                text = f"{e.comparison.replace('_', ' ')} {e.level.replace('_', ' ')}"
            else:
                continue
        attr = _VALUES.get(e.comparison)
        if attr and a is not None and b is not None:
            left, right = _value(a, attr), _value(b, attr)
            if left or right:
                text += f" ({left or '?'} / {right or '?'})"
        words.append(text)
    return "; ".join(words) or "nothing"


def _value(student: Student, attr: str) -> str:
    value = getattr(student, attr)
    if attr == "grade":
        return grade_name(value)
    if attr == "dob":
        return value.isoformat() if value else ""
    return str(value or "")


def competitor_text(item: ReviewItem, c: Competitor, people: Directory = EMPTY) -> str:
    """The competing candidate named: the side that differs from the item's own pair."""
    if c.archived_id == item.left_id:
        who = f"synced {people.named(c.synced_id)}"
    elif c.synced_id == item.right_id:
        who = f"archived {people.named(c.archived_id)}"
    else:
        who = f"archived {people.named(c.archived_id)} -> synced {people.named(c.synced_id)}"
    return f"{who}, confidence {c.confidence:.3f}"


def reasons_text(item: ReviewItem, people: Directory = EMPTY) -> str:
    """The item's reasons, then its competitors and duplicates named."""
    parts = list(item.reasons)
    if item.competitors:
        named = "; ".join(competitor_text(item, c, people) for c in item.competitors)
        parts.append(f"competitor: {named}")
    if item.duplicates:
        parts.append(
            "other archived records of this child (archived duplicates): "
            + ", ".join(people.named(d) for d in item.duplicates)
        )
    return " | ".join(parts)


def named_ids(plan: MergePlan) -> set[str]:
    """Every id the review sheet of ``plan`` names: the two sides of each item, their
    competitors and the other archived records of the child."""
    return {i for item in review_items(plan) for i in _item_ids(item)}


def _item_ids(item: ReviewItem) -> Iterator[str]:
    yield item.left_id
    yield item.right_id
    for c in item.competitors:
        yield c.archived_id
        yield c.synced_id
    yield from item.duplicates


def review_rows(plan: MergePlan, people: Directory = EMPTY) -> list[dict[str, str]]:
    """One dict per review item, keyed by :data:`COLUMNS`, in sheet order (unescaped)."""
    rows = []
    for item in review_items(plan):
        row = {
            "decision": "",
            "kind": item.kind,
            "approval_id": item.approval_id,
            "reason": item.reason,
            "confidence": "" if item.confidence is None else f"{item.confidence:.4f}",
            "differs": differs(item, people),
            "reasons": reasons_text(item, people),
            "record_hash": item.record_hash,
        }
        for prefix, record_id in (("left", item.left_id), ("right", item.right_id)):
            row.update({f"{prefix}_{k}": v for k, v in _side(record_id, people).items()})
        rows.append(row)
    return rows


def write_review_sheet(
    rows: Sequence[Mapping[str, str]], path: str | Path, *, format: str = "csv"
) -> None:
    """Write ``rows`` as CSV (UTF-8 with a BOM, so spreadsheets read the names right) or xlsx."""
    cells = [[escape_cell(row.get(c, "")) for c in COLUMNS] for row in rows]
    if format == "xlsx":
        _write_xlsx(cells, Path(path))
        return
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(cells)


def openpyxl() -> Any:
    try:
        return importlib.import_module("openpyxl")
    except ImportError:
        raise MissingDependencyError(
            "xlsx review sheets need openpyxl: pip install 'merge-engine[xlsx]', "
            "or use the CSV format"
        ) from None


def _write_xlsx(cells: Iterable[Sequence[str]], path: Path) -> None:
    xl = openpyxl()
    validation = importlib.import_module("openpyxl.worksheet.datavalidation")
    book = xl.Workbook()
    sheet = book.active
    sheet.title = "review"
    sheet.append(list(COLUMNS))
    count = 1
    for row in cells:
        sheet.append(list(row))
        count += 1
    for cell in sheet[1]:
        cell.font = xl.styles.Font(bold=True)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.data_type = "s"  # text, never a formula (the cells are escaped as well)
    sheet.freeze_panes = "D2"
    sheet.auto_filter.ref = sheet.dimensions
    choices = validation.DataValidation(type="list", formula1='"approve,reject"', allow_blank=True)
    sheet.add_data_validation(choices)
    choices.add(f"A2:A{max(count, 2)}")
    book.save(path)
