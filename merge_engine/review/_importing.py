"""Reading a decided review sheet back: every row checked against the plan, by line.

A sheet is refused as a whole, with the line of each problem, when a row
names an item that is not in the plan, a pair whose records changed since
the sheet was made, an unknown decision word, or when it approves two
children onto one synced student. Messages carry file, line and ids, never
names (the sheet holds names; error messages and logs must not).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from attrs import frozen

from ..applying._applying import plan_fingerprint
from ..exceptions import InputError
from ..plan import MergePlan
from ._decisions import Decision, Decisions, Verdict, check_one_child_per_record
from ._export import openpyxl, unescape_cell
from ._items import STUDENT_KINDS, ReviewItem, review_items

__all__ = ["APPROVE_WORDS", "REJECT_WORDS", "ReviewSheetError", "read_decisions"]

APPROVE_WORDS = frozenset({"approve", "approved", "yes", "y"})
REJECT_WORDS = frozenset({"reject", "rejected", "no", "n"})
_REQUIRED = ("decision", "approval_id", "left_id", "right_id", "record_hash")
MAX_LISTED = 20


class ReviewSheetError(InputError):
    """A review sheet that cannot be imported; ``problems`` holds ``(line, message)`` pairs."""

    def __init__(self, path: str, problems: Sequence[tuple[int, str]]) -> None:
        self.problems = tuple(problems)
        if len(problems) == 1:
            line, message = problems[0]
            super().__init__(message + _NEXT, path=path, line=line or None)
            return
        listed = "; ".join(
            f"line {line}: {message}" if line else message
            for line, message in problems[:MAX_LISTED]
        )
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        super().__init__(
            f"{len(problems)} problems, nothing imported: {listed}{more}{_NEXT}", path=path
        )


_NEXT = "; correct the sheet (or export a new one from the current plan) and import it again"


@frozen
class _Row:
    line: int
    cells: dict[str, str]


def read_decisions(plan: MergePlan, path: str | Path) -> Decisions:
    """The decisions in a review sheet (CSV or .xlsx) made from ``plan``.

    Raises:
        ReviewSheetError: with the line of every problem; nothing is imported.
    """
    name = str(path)
    rows = list(_xlsx_rows(Path(path)) if name.lower().endswith(".xlsx") else _csv_rows(path))
    items = {i.approval_id: i for i in review_items(plan)}
    problems: list[tuple[int, str]] = []
    decided: list[tuple[_Row, ReviewItem, Verdict]] = []
    seen: dict[str, int] = {}
    for row in rows:
        word = row.cells.get("decision", "").strip().lower()
        if not word:
            continue
        key = row.cells.get("approval_id", "").strip()
        verdict: Verdict | None = (
            "approve" if word in APPROVE_WORDS else "reject" if word in REJECT_WORDS else None
        )
        item = items.get(key)
        if verdict is None:
            problems.append(
                (row.line, f"unknown decision for {key or 'a row without approval_id'}; "
                 "write approve, reject or leave it blank")
            )  # fmt: skip
        elif item is None:
            problems.append((row.line, f"{key or 'a row without approval_id'} is not a review "
                             "item of this plan"))  # fmt: skip
        elif (row.cells.get("left_id", "").strip(), row.cells.get("right_id", "").strip()) != (
            item.left_id,
            item.right_id,
        ):
            problems.append(
                (row.line, f"{key}: the plan now pairs {item.left_id} with {item.right_id}, not "
                 "the pair on this row")
            )  # fmt: skip
        elif row.cells.get("record_hash", "").strip() != item.record_hash:
            problems.append(
                (row.line, f"{key}: the records changed since the sheet was made (record hash "
                 "differs); decide this pair again")
            )  # fmt: skip
        elif key in seen:
            problems.append((row.line, f"{key} is decided twice (also on line {seen[key]})"))
        else:
            seen[key] = row.line
            decided.append((row, item, verdict))
    approved = [(r, i) for r, i, v in decided if v == "approve"]
    problems += _two_children(plan, approved)
    if problems:
        raise ReviewSheetError(name, sorted(problems))
    return Decisions(
        plan_fingerprint(plan),
        Path(path).name,
        [Decision.of(i, "approve", r.line) for r, i in approved],
        [Decision.of(i, "reject", r.line) for r, i, v in decided if v == "reject"],
    )


def _two_children(
    plan: MergePlan, approved: Sequence[tuple[_Row, ReviewItem]]
) -> list[tuple[int, str]]:
    """A problem per approved row that puts a second child onto one synced student."""
    students = [(r, i) for r, i in approved if i.kind in STUDENT_KINDS]
    groups = check_one_child_per_record(plan, {i.approval_id for _, i in students})
    line_of = {i.approval_id: r.line for r, i in students}
    out = []
    for ids in groups:
        synced = next(m.synced_id for m in plan.merges if m.archived_id == ids[0])
        rows = sorted(line_of[a] for a in ids if a in line_of)
        others = ", ".join(a for a in ids)
        for line in rows:
            out.append(
                (line, f"synced student {synced} would receive two different children "
                 f"({others}); approve at most one of them")
            )  # fmt: skip
    return out


def _csv_rows(path: str | Path) -> Iterator[_Row]:
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"cannot read the review sheet ({exc.strerror})", path=str(path)) from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader, [])]
            _check_header(header, path)
            end = reader.line_num
            for cells in reader:
                start, end = end + 1, reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                values = {h: unescape_cell(c) for h, c in zip(header, cells, strict=False)}
                yield _Row(start, values)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(
                f"not a readable CSV review sheet ({type(exc).__name__}); export it again",
                path=str(path),
                line=reader.line_num or None,
            ) from None


def _xlsx_rows(path: Path) -> Iterator[_Row]:
    xl = openpyxl()
    try:
        book = xl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputError(
            f"not a readable xlsx review sheet ({type(exc).__name__})", path=str(path)
        ) from None
    try:
        sheet = book["review"] if "review" in book.sheetnames else book.active
        values = sheet.iter_rows(values_only=True)
        header = [str(h or "").strip().lower() for h in next(values, ())]
        _check_header(header, path)
        for line, cells in enumerate(values, start=2):
            text = ["" if c is None else str(c) for c in cells]
            if any(t.strip() for t in text):
                yield _Row(line, {h: unescape_cell(t) for h, t in zip(header, text, strict=False)})
    finally:
        book.close()


def _check_header(header: Sequence[str], path: str | Path) -> None:
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"the review sheet has no {', '.join(missing)} column(s); export it with "
            "`merge-engine review export` and keep its header row",
            path=str(path),
            line=1,
        )
