"""A plan as one self-contained HTML page, for the admin who reviews it.

The page has no server, no network and no external file: its CSS, script
and charts are inline, so it can be mailed or opened from a USB stick.
It is an admin-facing view and shows names, birth dates and guardians
(that is its purpose); every value is escaped. Big plans stay usable: the
review queue is shown in full (up to ``limits.review``), the other lists
are cut at ``limits.rows`` with a note saying how many were left out.

It is one module of over 500 lines on purpose: the page is one document, and its
sections, inline CSS and script name the same element ids, so they are kept side by side.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from attrs import frozen

from .._record_hash import student_hash
from ..accounts._contact_audit import DB_ISSUES, ISSUES, AuditReport
from ..applying._applying import plan_fingerprint
from ..exceptions import PlanError
from ..model import Contact, Roster, Student
from ..plan import Merge, MergePlan
from ..readers._values import format_grade
from ._svg import logit2, waterfall, weight_histogram

if TYPE_CHECKING:  # the audit (and the guardian matcher it loads) only when a page is made
    from ..accounts._contact_audit import AuditReport

__all__ = ["ReportLimits", "render_report", "write_report"]

#: The first bytes of every report: a file starting otherwise is not overwritten by the CLI.
MARKER = "<!DOCTYPE html>\n<!-- merge-engine plan report -->"


@frozen
class ReportLimits:
    """How many entries each list shows; the rest are counted in a note."""

    review: int = 5000
    rows: int = 1000


@frozen
class _People:
    """Names for ids, from the rosters when given (empty otherwise)."""

    archived: Mapping[str, Student]
    synced: Mapping[str, Student]
    guardians: Mapping[str, Contact]
    staff: Mapping[str, str]

    @classmethod
    def of(cls, archived: Roster | None, synced: Roster | None) -> _People:
        guardians: dict[str, Contact] = {}
        staff: dict[str, str] = {}
        for roster in (archived, synced):
            for s in roster.students if roster else ():
                for c in s.contacts:
                    guardians.setdefault(c.guardian_id, c)
            for m in roster.staff if roster else ():
                staff[m.id] = f"{m.first_name} {m.last_name}"
        return cls(
            {s.id: s for s in archived.students} if archived else {},
            {s.id: s for s in synced.students} if synced else {},
            guardians,
            staff,
        )

    def student(self, sid: str) -> str:
        s = self.archived.get(sid) or self.synced.get(sid)
        return _full_name(s) if s else ""

    def adult(self, pid: str) -> str:
        if pid in self.staff:
            return self.staff[pid]
        c = self.guardians.get(pid)
        return " ".join(p for p in (c.first_name, c.last_name) if p) if c else ""


def _full_name(s: Student) -> str:
    return " ".join(p for p in (s.first_name, s.middle_name, s.last_name) if p)


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _who(pid: str, name: str) -> str:
    """An id with its name, escaped: ``a000005 Linh Wong``."""
    return (
        f'<span class="id">{_e(pid)}</span> {_e(name)}'
        if name
        else f'<span class="id">{_e(pid)}</span>'
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "") -> str:
    """A table of already-escaped cells; each body row is filterable by the search box."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    rows = list(rows)
    if not rows:
        return '<p class="empty">None.</p>'
    body = "".join('<tr class="row">' + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<div class="scroll"><table class="{cls}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _cut_note(shown: int, total: int, what: str) -> str:
    if total <= shown:
        return ""
    return (
        f'<p class="note">Showing {shown:,} of {total:,} {_e(what)}; the others are in the '
        "plan (<code>merge-engine show</code>).</p>"
    )


# -- the two records side by side ------------------------------------------------------------


def _guardians_text(s: Student) -> list[str]:
    out = []
    for c in s.contacts:
        name = " ".join(p for p in (c.first_name, c.last_name) if p) or "(no name)"
        bits = [name]
        if c.relationship:
            bits.append(f"({c.relationship})")
        bits += [v for v in (c.email, c.phone) if v]
        out.append(" ".join(bits))
    return out


def _fields(s: Student | None) -> dict[str, str]:
    if s is None:
        return {}
    address = ", ".join(
        p for p in (s.street, s.city, " ".join(filter(None, (s.state, s.zip)))) if p
    )
    ids = "; ".join(
        f"{k} {v}"
        for k, v in (("SIS", s.sis_id), ("state", s.state_id), ("no.", s.student_number))
        if v
    )
    return {
        "Name": _full_name(s),
        "Birth date": s.dob.isoformat() if s.dob else "",
        "Grade": format_grade(s.grade),
        "Gender": s.gender or "",
        "School": s.school_id or "",
        "Ids": ids,
        "Email": s.email or "",
        "Address": address,
    }


_COMPARED = {
    "Name": ("first_name", "middle_name", "last_name"),
    "Birth date": ("dob",),
    "Grade": ("grade",),
    "Gender": ("gender",),
    "School": ("school",),
    "Ids": ("identifier",),
    "Address": ("address",),
    "Guardians": ("guardian",),
}


def _verdict(label: str, levels: Mapping[str, str]) -> str:
    """The comparisons' levels behind one row, in words: ``first exact, last close``."""
    names = _COMPARED.get(label, ())
    found = [(n, levels[n]) for n in names if n in levels and levels[n] != "missing"]
    if len(names) > 1:
        return ", ".join(f"{n.split('_')[0]} {lv.replace('_', ' ')}" for n, lv in found)
    return ", ".join(lv.replace("_", " ") for _, lv in found)


def _side_by_side(a: Student | None, b: Student | None, levels: Mapping[str, str]) -> str:
    fa, fb = _fields(a), _fields(b)
    rows = []
    for label in ("Name", "Birth date", "Grade", "Gender", "School", "Ids", "Email", "Address"):
        left, right = fa.get(label, ""), fb.get(label, "")
        if not left and not right:
            continue
        cls = "same" if left.casefold() == right.casefold() else "diff" if left and right else "gap"
        rows.append(
            f'<tr class="{cls}"><th>{_e(label)}</th><td>{_e(left) or "—"}</td>'
            f'<td>{_e(right) or "—"}</td><td class="level">{_e(_verdict(label, levels))}</td></tr>'
        )
    ga = _guardians_text(a) if a else []
    gb = _guardians_text(b) if b else []
    if ga or gb:
        rows.append(
            '<tr class="guardians"><th>Guardians</th>'
            f"<td>{'<br>'.join(_e(g) for g in ga) or '—'}</td>"
            f"<td>{'<br>'.join(_e(g) for g in gb) or '—'}</td>"
            f'<td class="level">{_e(_verdict("Guardians", levels))}</td></tr>'
        )
    return (
        '<table class="pair"><thead><tr><th></th><th>archived</th><th>synced</th>'
        f"<th>compared</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _staleness(m: Merge, people: _People) -> list[str]:
    """Warnings when the rosters given are not the ones the plan was made from."""
    notes = []
    a, b = people.archived.get(m.archived_id), people.synced.get(m.synced_id)
    if people.archived and a is None:
        notes.append(f"archived {m.archived_id} is not in the archived roster given")
    elif a is not None and m.archived_hash and student_hash(a) != m.archived_hash:
        notes.append(f"archived {m.archived_id} changed since planning")
    if people.synced and b is None:
        notes.append(f"synced {m.synced_id} is not in the synced roster given")
    elif b is not None and m.synced_hash and student_hash(b, contacts=False) != m.synced_hash:
        notes.append(f"synced {m.synced_id} changed since planning")
    return notes


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def reason_kind(reason: str) -> str:
    """A reason with its numbers replaced, so that similar cases group together."""
    return _NUMBER.sub("#", reason)


def _review_card(m: Merge, people: _People, prior_bits: float | None) -> str:
    kinds = sorted({reason_kind(r) for r in m.reasons}) or ["(no reason)"]
    reasons = "".join(f"<li>{_e(r)}</li>" for r in m.reasons)
    for c in m.competitors:
        first = _who(c.archived_id, people.student(c.archived_id))
        second = _who(c.synced_id, people.student(c.synced_id))
        reasons += (
            f'<li class="competitor">competitor: {first} → {second}, '
            f"confidence {c.confidence:.4f}</li>"
        )
    if m.duplicates:
        dups = ", ".join(_who(d, people.student(d)) for d in m.duplicates)
        reasons += f"<li>same child as archived {dups}</li>"
    stale = "".join(f'<p class="stale">{_e(n)}</p>' for n in _staleness(m, people))
    a, b = people.archived.get(m.archived_id), people.synced.get(m.synced_id)
    return (
        f'<article class="row card" id="pair-{_e(m.archived_id)}-{_e(m.synced_id)}" '
        f'data-reasons="{_e("|".join(kinds))}">'
        f"<h3>{_who(m.archived_id, _full_name(a) if a else '')} → "
        f"{_who(m.synced_id, _full_name(b) if b else '')}</h3>"
        f'<p class="scores">confidence <b>{m.confidence:.4f}</b> · match weight '
        f"{m.match_weight:+.1f} bits"
        + (f" · margin {m.margin_bits:.1f} bits" if m.margin_bits is not None else "")
        + f'</p>{stale}<ul class="reasons">{reasons}</ul>'
        f'<div class="cols">{_side_by_side(a, b, {e.comparison: e.level for e in m.evidence})}'
        f"{waterfall(m.evidence, m.match_weight, prior_bits)}</div></article>"
    )


# -- sections --------------------------------------------------------------------------------


def _prior_bits(plan: MergePlan) -> float | None:
    prior = plan.model.get("prior")
    return logit2(float(prior)) if isinstance(prior, int | float) and 0 < prior < 1 else None


def _summary(plan: MergePlan, audit: AuditReport | None) -> str:
    s = plan.stats
    dup_count = sum(len(m.duplicates) > 0 for m in plan.merges)
    cards = [
        ("archived students", s.get("archived_students", "?")),
        ("synced students", s.get("synced_students", "?")),
        ("auto merges", len(plan.auto)),
        ("merges to review", len(plan.review)),
        ("archived unmatched", len(plan.unmatched_archived)),
        ("synced unmatched", len(plan.unmatched_synced)),
        ("children with archived duplicates", dup_count),
        ("guardian merges", len(plan.guardian_merges)),
        ("guardian merges to review", sum(g.decision == "review" for g in plan.guardian_merges)),
        ("second old accounts folded", len(plan.guardian_folds)),
        ("old-guardian actions", len(plan.guardian_actions)),
        ("multiple-role users", len(plan.role_links)),
        ("input warnings", len(plan.warnings)),
    ]
    if audit is not None:
        cards.append(("data-quality findings", len(audit.findings)))
    return "".join(
        f'<div class="stat"><b>{_e(f"{v:,}" if isinstance(v, int) else v)}</b>'
        f"<span>{_e(k)}</span></div>"
        for k, v in cards
    )


def _histogram(plan: MergePlan) -> str:
    auto_t = float(plan.settings.get("auto_threshold", 0.99))
    review_t = float(plan.settings.get("review_threshold", 0.3))
    return weight_histogram(
        [m.match_weight for m in plan.auto],
        [m.match_weight for m in plan.review],
        [(f"review floor {review_t:g}", logit2(review_t)), (f"auto {auto_t:g}", logit2(auto_t))],
    )


def _review_section(plan: MergePlan, people: _People, limits: ReportLimits) -> tuple[str, str]:
    queue = sorted(
        plan.review,
        key=lambda m: (sorted(reason_kind(r) for r in m.reasons), -m.confidence, m.archived_id),
    )
    kinds = Counter(
        k for m in queue for k in {reason_kind(r) for r in m.reasons} or {"(no reason)"}
    )
    options = "".join(
        f'<option value="{_e(k)}">{_e(k)} ({n:,})</option>' for k, n in sorted(kinds.items())
    )
    prior = _prior_bits(plan)
    cards = "".join(_review_card(m, people, prior) for m in queue[: limits.review])
    if not queue:
        cards = '<p class="empty">No merge needs review.</p>'
    return options, cards + _cut_note(min(limits.review, len(queue)), len(queue), "review merges")


def _auto_section(plan: MergePlan, people: _People, limits: ReportLimits) -> str:
    auto = sorted(plan.auto, key=lambda m: (m.confidence, m.match_weight, m.archived_id))
    rows = [
        (
            _who(m.archived_id, people.student(m.archived_id)),
            _who(m.synced_id, people.student(m.synced_id)),
            f"{m.confidence:.4f}",
            f"{m.match_weight:+.1f}",
            _e(", ".join(f"{e.comparison} {e.level}" for e in m.evidence if e.bits)),
        )
        for m in auto[: limits.rows]
    ]
    intro = (
        f"<p>{len(auto):,} merges are applied without review. The least confident come first.</p>"
    )
    return (
        intro
        + _table(["archived", "synced", "confidence", "bits", "evidence"], rows)
        + _cut_note(len(rows), len(auto), "auto merges")
    )


def _student_rows(
    ids: Sequence[str], side: Mapping[str, Student], limit: int
) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for sid in ids[:limit]:
        s = side.get(sid)
        out.append(
            (
                _who(sid, ""),
                _e(_full_name(s)) if s else "",
                _e(s.dob.isoformat() if s and s.dob else ""),
                _e(format_grade(s.grade) if s else ""),
                _e(s.school_id if s else ""),
            )
        )
    return out


def _unmatched_section(plan: MergePlan, people: _People, limits: ReportLimits) -> str:
    head = ["id", "name", "birth date", "grade", "school"]
    parts = []
    for what, ids, side in (
        ("archived students with no synced counterpart", plan.unmatched_archived, people.archived),
        (
            "synced students no archived student was merged into",
            plan.unmatched_synced,
            people.synced,
        ),
    ):
        rows = _student_rows(ids, side, limits.rows)
        parts.append(f"<h3>{len(ids):,} {_e(what)}</h3>" + _table(head, rows))
        parts.append(_cut_note(len(rows), len(ids), what))
    return "".join(parts)


def _duplicates_section(plan: MergePlan, people: _People, limits: ReportLimits) -> str:
    merges = [m for m in plan.merges if m.duplicates]
    rows = [
        (
            "<br>".join(_who(d, people.student(d)) for d in (m.archived_id, *m.duplicates)),
            _who(m.synced_id, people.student(m.synced_id)),
            _e(m.decision),
        )
        for m in merges[: limits.rows]
    ]
    return (
        "<p>Archived records typed more than once for one child, merged into one synced "
        "student.</p>"
        + _table(["archived records of one child", "synced", "decision"], rows)
        + _cut_note(len(rows), len(merges), "children with duplicates")
    )


def _guardian_section(plan: MergePlan, people: _People, limits: ReportLimits) -> str:
    merges = sorted(plan.guardian_merges, key=lambda g: (g.decision != "review", g.confidence))
    rows = [
        (
            _who(g.archived_guardian_id, people.adult(g.archived_guardian_id)),
            _who(g.synced_guardian_id, people.adult(g.synced_guardian_id)),
            _e(g.decision),
            f"{g.confidence:.4f}",
            _e("; ".join(g.reasons)),
            _e(", ".join(f"{e.comparison} {e.level}" for e in g.evidence)),
        )
        for g in merges[: limits.rows]
    ]
    folds = sorted(plan.guardian_folds, key=lambda f: (f.decision != "review", f.confidence))
    fold_rows = [
        (
            _who(f.archived_guardian_id, people.adult(f.archived_guardian_id)),
            _who(f.into_guardian_id, people.adult(f.into_guardian_id)),
            _who(f.synced_guardian_id, people.adult(f.synced_guardian_id)),
            _e(f.decision),
            f"{f.confidence:.4f}",
            _e("; ".join(f.reasons)),
        )
        for f in folds[: limits.rows]
    ]
    actions = plan.guardian_actions
    action_rows = [
        (
            _e(a.action),
            _who(a.guardian_id, people.adult(a.guardian_id)),
            _who(a.student_id, people.student(a.student_id)),
            _e(a.reason),
        )
        for a in actions[: limits.rows]
    ]
    return (
        f"<h3>{len(merges):,} guardian merges (old account kept for the new student)</h3>"
        + _table(
            [
                "archived guardian",
                "synced guardian",
                "decision",
                "confidence",
                "reasons",
                "evidence",
            ],
            rows,
        )
        + _cut_note(len(rows), len(merges), "guardian merges")
        + f"<h3>{len(folds):,} second old accounts folded into the adult's first</h3>"
        + _table(
            [
                "second old account",
                "kept old account",
                "synced guardian",
                "decision",
                "confidence",
                "reasons",
            ],
            fold_rows,
        )
        + _cut_note(len(fold_rows), len(folds), "folds")
        + f"<h3>{len(actions):,} actions on old guardian links</h3>"
        + _table(["action", "guardian", "student", "reason"], action_rows)
        + _cut_note(len(action_rows), len(actions), "guardian actions")
    )


def _roles_section(plan: MergePlan, people: _People, limits: ReportLimits) -> str:
    links = plan.role_links
    rows = [
        (
            _e(r.kind.replace("_", " / ")),
            _who(r.first_id, people.adult(r.first_id)),
            _who(r.second_id, people.adult(r.second_id)),
            _e(r.verdict.replace("_", " ")),
            _e(r.action.replace("_", " ")),
            _e(", ".join(r.differs)),
            _e(", ".join(f"{k} {v}" for k, v in r.evidence)),
        )
        for r in links[: limits.rows]
    ]
    return _table(
        ["kind", "first", "second", "verdict", "action", "differs", "evidence"], rows
    ) + _cut_note(len(rows), len(links), "multiple-role users")


def _audit_section(
    plan: MergePlan, people: _People, audit: AuditReport | None, limits: ReportLimits
) -> str:
    warnings = [
        (_e(w.get("path", "")), _e(w.get("line", "")), _e(w.get("column") or ""),
         _e(w.get("message", "")))
        for w in plan.warnings[: limits.rows]
    ]  # fmt: skip
    parts = [
        f"<h3>{len(plan.warnings):,} input warnings</h3>",
        _table(["file", "line", "column", "message"], warnings),
        _cut_note(len(warnings), len(plan.warnings), "input warnings"),
    ]
    if audit is None:
        parts.append('<p class="note">Give the rosters to see the contact audit.</p>')
        return "".join(parts)

    counts = [
        (_e(ISSUES.get(k) or DB_ISSUES.get(k, k)), f"{n:,}") for k, n in audit.counts().items()
    ]
    findings = [
        (
            _e(f.issue.replace("_", " ")),
            _who(f.record_id, people.student(f.record_id) or people.adult(f.record_id)),
            _e(f.school_id),
            _e(f.detail),
        )
        for f in audit.findings[: limits.rows]
    ]
    parts += [
        f"<h3>Contact audit: {audit.students:,} students, {audit.guardians:,} guardian accounts, "
        f"{audit.staff:,} staff</h3>",
        _table(["finding", "count"], counts, cls="counts"),
        _table(["finding", "record", "school", "detail"], findings),
        _cut_note(len(findings), len(audit.findings), "findings"),
    ]
    return "".join(parts)


def render_report(
    plan: MergePlan,
    archived: Roster | None = None,
    synced: Roster | None = None,
    *,
    audit: AuditReport | None = None,
    limits: ReportLimits | None = None,
    title: str = "",
) -> str:
    """The report as one HTML document. Rosters add names; without them only ids show."""
    limits = limits or ReportLimits()
    people = _People.of(archived, synced)
    options, cards = _review_section(plan, people, limits)
    try:
        fp = plan_fingerprint(plan)
    except PlanError:
        fp = "(no fingerprint)"
    names_note = (
        ""
        if archived is not None and synced is not None
        else '<p class="note">Names are not shown: give the rosters the plan was made from.</p>'
    )
    template = Template(files("merge_engine").joinpath("data/report.html").read_text("utf-8"))
    return template.substitute(
        marker=MARKER,
        title=_e(title or f"Merge plan {fp}"),
        generated=_e(dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        names_note=names_note,
        summary=_summary(plan, audit),
        histogram=_histogram(plan),
        review_count=f"{len(plan.review):,}",
        reason_options=options,
        review=cards,
        auto_count=f"{len(plan.auto):,}",
        auto=_auto_section(plan, people, limits),
        unmatched=_unmatched_section(plan, people, limits),
        duplicates=_duplicates_section(plan, people, limits),
        guardians=_guardian_section(plan, people, limits),
        roles=_roles_section(plan, people, limits),
        audit=_audit_section(plan, people, audit, limits),
    )


def write_report(path: str | Path, html: str) -> None:
    """Write ``html`` atomically (a temporary file renamed into place)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
