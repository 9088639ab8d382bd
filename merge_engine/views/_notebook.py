"""Notebook views of plans, merges, rosters and audits: HTML tables, DataFrames, a graph.

The classes call in here (``MergePlan._repr_html_``, ``plan.to_pandas()``,
``plan.graph()``) so that the domain modules stay free of presentation.
pandas is an optional extra (``pip install merge-engine[pandas]``);
networkx is a core dependency.

Names appear only in views of objects that hold them (a ``Roster``'s
``_repr_html_``): a plan holds ids, levels and numbers, never names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from ..exceptions import MissingDependencyError
from ..plan import merge_row
from ..readers._values import format_grade
from ._svg import logit2, waterfall

if TYPE_CHECKING:
    import networkx as nx

    from ..accounts._contact_audit import AuditReport
    from ..model import Roster, Student
    from ..plan import Merge, MergePlan

__all__ = [
    "audit_html",
    "merge_html",
    "plan_graph",
    "plan_html",
    "plan_to_pandas",
    "roster_html",
    "roster_to_pandas",
]

#: Rows shown by a notebook table before "... N more".
SHOWN = 10


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "") -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _more(shown: int, total: int) -> str:
    return f"<p>… {total - shown:,} more</p>" if total > shown else ""


def plan_html(plan: MergePlan) -> str:
    """Counts, then the first review merges."""
    counts = [
        ("merges", len(plan.merges)),
        ("auto", len(plan.auto)),
        ("review", len(plan.review)),
        ("archived unmatched", len(plan.unmatched_archived)),
        ("synced unmatched", len(plan.unmatched_synced)),
        ("guardian merges", len(plan.guardian_merges)),
        ("second old accounts folded", len(plan.guardian_folds)),
        ("guardian actions", len(plan.guardian_actions)),
        ("multiple-role users", len(plan.role_links)),
        ("input warnings", len(plan.warnings)),
    ]
    review = plan.review
    rows = [
        (m.archived_id, m.synced_id, f"{m.confidence:.4f}", "; ".join(m.reasons))
        for m in review[:SHOWN]
    ]
    return (
        "<div><strong>MergePlan</strong>"
        + _table(["", "count"], [(k, f"{v:,}") for k, v in counts])
        + (_table(["archived", "synced", "confidence", "review reasons"], rows) if rows else "")
        + _more(len(rows), len(review))
        + "</div>"
    )


def merge_html(merge: Merge, prior: float | None = None) -> str:
    """Ids, decision, confidence, reasons and the evidence waterfall."""
    prior_bits = logit2(prior) if prior is not None and 0 < prior < 1 else None
    reasons = "".join(f"<li>{_e(r)}</li>" for r in merge.reasons)
    competitors = "".join(
        f"<li>competitor {_e(c.archived_id)} → {_e(c.synced_id)} ({c.confidence:.4f})</li>"
        for c in merge.competitors
    )
    return (
        f"<div><strong>Merge {_e(merge.archived_id)} → {_e(merge.synced_id)}</strong>: "
        f"{_e(merge.decision)}, confidence {merge.confidence:.4f}, "
        f"match weight {merge.match_weight:+.1f} bits"
        + (f"<ul>{reasons}{competitors}</ul>" if reasons or competitors else "")
        + waterfall(merge.evidence, merge.match_weight, prior_bits)
        + "</div>"
    )


def _student_row(s: Student) -> tuple[str, ...]:
    name = " ".join(p for p in (s.first_name, s.middle_name, s.last_name) if p)
    return (
        s.id,
        name,
        s.dob.isoformat() if s.dob else "",
        format_grade(s.grade),
        s.school_id or "",
        str(len(s.contacts)),
    )


def roster_html(roster: Roster) -> str:
    """Counts and the first students, with names (a roster holds them; see ``Roster``)."""
    students = roster.students
    rows = [_student_row(s) for s in students[:SHOWN]]
    return (
        f"<div><strong>Roster</strong> {_e(roster.format)} from {_e(roster.source)}: "
        f"{len(students):,} students, {len(roster.staff):,} staff, "
        f"{len(roster.warnings):,} warnings"
        + _table(["id", "name", "birth date", "grade", "school", "guardians"], rows)
        + _more(len(rows), len(students))
        + "</div>"
    )


def audit_html(report: AuditReport) -> str:
    from ..accounts._contact_audit import DB_ISSUES, ISSUES  # noqa: PLC0415

    rows = [(ISSUES.get(k) or DB_ISSUES.get(k, k), f"{n:,}") for k, n in report.counts().items()]
    return (
        f"<div><strong>Contact audit</strong>: {report.students:,} students, "
        f"{report.guardians:,} guardian accounts, {report.staff:,} staff"
        + _table(["finding", "count"], rows)
        + "</div>"
    )


def _pandas() -> Any:
    try:
        import pandas  # noqa: PLC0415
    except ImportError as exc:
        raise MissingDependencyError(
            "to_pandas() needs pandas: pip install 'merge-engine[pandas]'"
        ) from exc
    return pandas


def plan_to_pandas(plan: MergePlan) -> Any:
    """One row per merge; ``<comparison>_level`` and ``<comparison>_bits`` for each field."""
    pd = _pandas()
    rows = []
    for m in plan.merges:
        row: dict[str, Any] = {
            **merge_row(m),
            "competitors": len(m.competitors),
            "duplicates": ";".join(m.duplicates),
        }
        for e in m.evidence:
            row[f"{e.comparison}_level"] = e.level
            row[f"{e.comparison}_bits"] = e.bits
        rows.append(row)
    columns = ["archived_id", "synced_id", "decision", "confidence", "match_weight",
               "margin_bits", "reasons", "competitors", "duplicates"]  # fmt: skip
    return pd.DataFrame(rows, columns=None if rows else columns)


def roster_to_pandas(roster: Roster) -> Any:
    """One row per student, with the guardian account ids joined by ``;``."""
    pd = _pandas()
    fields = ["id", "first_name", "middle_name", "last_name", "dob", "grade", "gender",
              "school_id", "sis_id", "state_id", "student_number", "email", "street", "city",
              "state", "zip"]  # fmt: skip
    rows = [
        {
            **{f: getattr(s, f) for f in fields},
            "guardian_ids": ";".join(c.guardian_id for c in s.contacts),
        }
        for s in roster.students
    ]
    return pd.DataFrame(rows, columns=[*fields, "guardian_ids"])


def plan_graph(plan: MergePlan) -> nx.Graph:
    """The plan's scored bipartite graph.

    Nodes are ``("archived", id)`` and ``("synced", id)`` (ids of the two
    sides may collide), with ``bipartite`` 0 or 1. Each merge is an edge
    with ``kind="merge"``, its decision, confidence, match weight and field
    levels; each competitor the plan names is an edge with
    ``kind="competitor"`` and its confidence. Unmatched students are
    isolated nodes. Pairs the planner scored but dropped without naming
    them are not in the plan, so not in the graph.
    """
    import networkx as nx  # noqa: PLC0415

    g = nx.Graph()
    for sid in plan.unmatched_archived:
        g.add_node(("archived", sid), bipartite=0)
    for sid in plan.unmatched_synced:
        g.add_node(("synced", sid), bipartite=1)
    for m in plan.merges:
        a, s = ("archived", m.archived_id), ("synced", m.synced_id)
        g.add_node(a, bipartite=0)
        g.add_node(s, bipartite=1)
        g.add_edge(
            a,
            s,
            kind="merge",
            decision=m.decision,
            confidence=m.confidence,
            weight=m.match_weight,
            levels={e.comparison: e.level for e in m.evidence},
            reasons=m.reasons,
        )
    for m in plan.merges:
        for c in m.competitors:
            a, s = ("archived", c.archived_id), ("synced", c.synced_id)
            if g.has_edge(a, s):
                continue
            g.add_node(a, bipartite=0)
            g.add_node(s, bipartite=1)
            g.add_edge(a, s, kind="competitor", confidence=c.confidence)
    return g
