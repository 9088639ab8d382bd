"""Notebook views: HTML reprs, readable reprs, DataFrames and the plan's graph."""

from __future__ import annotations

import subprocess
import sys
from html import escape

import networkx as nx
import pytest
from conftest import FAST
from report_support import HOSTILE, hostile_case

from merge_engine import MergePlan, Roster, audit_contacts, build_plan
from merge_engine.testing.synthetic import generate_district


@pytest.fixture(scope="module")
def district() -> tuple[MergePlan, Roster, Roster]:
    d = generate_district(500, seed=5)
    return build_plan(d.archived, d.synced, FAST), d.archived, d.synced


def test_plan_html_counts_and_first_review_merges(
    district: tuple[MergePlan, Roster, Roster],
) -> None:
    plan, _, _ = district
    html = plan._repr_html_()
    assert f"<td>review</td><td>{len(plan.review):,}</td>" in html
    assert f"<td>auto</td><td>{len(plan.auto):,}</td>" in html
    assert plan.review[0].archived_id in html


def test_merge_repr_and_html(district: tuple[MergePlan, Roster, Roster]) -> None:
    plan, _, _ = district
    m = plan.review[0]
    text = repr(m)
    assert text.startswith(f"<Merge {m.archived_id} -> {m.synced_id} review confidence=")
    assert f"{len(m.reasons)} review reasons" in text
    html = m._repr_html_()
    assert '<svg class="waterfall"' in html
    assert all(escape(r) in html for r in m.reasons)
    assert html.count("<rect") >= sum(abs(e.bits) >= 0.05 for e in m.evidence)


def test_roster_html_shows_names_but_repr_does_not(
    district: tuple[MergePlan, Roster, Roster],
) -> None:
    _, archived, _ = district
    first = archived.students[0]
    assert escape(first.last_name) in archived._repr_html_()
    assert first.last_name not in repr(archived)
    assert f"{len(archived.students) - 10:,} more" in archived._repr_html_()


def test_html_views_escape_names() -> None:
    plan, archived, _ = hostile_case()
    for html in (archived._repr_html_(), plan._repr_html_(), plan.merges[0]._repr_html_()):
        assert HOSTILE not in html and "<script>" not in html


def test_audit_html(district: tuple[MergePlan, Roster, Roster]) -> None:
    plan, archived, synced = district
    report = audit_contacts(synced, archived, plan)
    html = report._repr_html_()
    assert f"{report.guardians:,} guardian accounts" in html
    assert html.count("<tr>") == len(report.counts()) + 1


def test_plan_to_pandas_has_levels_and_bits(district: tuple[MergePlan, Roster, Roster]) -> None:
    plan, _, _ = district
    df = plan.to_pandas()
    assert len(df) == len(plan.merges)
    m = plan.merges[0]
    row = df.iloc[0]
    assert (row["archived_id"], row["decision"]) == (m.archived_id, m.decision)
    for e in m.evidence:
        assert row[f"{e.comparison}_level"] == e.level
        assert row[f"{e.comparison}_bits"] == e.bits
    assert (df["decision"] == "review").sum() == len(plan.review)


def test_roster_to_pandas(district: tuple[MergePlan, Roster, Roster]) -> None:
    _, archived, _ = district
    df = archived.to_pandas()
    s = archived.students[3]
    assert len(df) == len(archived)
    assert df.iloc[3]["last_name"] == s.last_name
    assert df.iloc[3]["guardian_ids"] == ";".join(c.guardian_id for c in s.contacts)


def test_to_pandas_without_pandas_says_which_extra() -> None:
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import merge_engine as me\n"
        "try:\n    me.Roster([]).to_pandas()\n"
        "except me.MissingDependencyError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "merge-engine[pandas]" in done.stdout


def test_plan_graph_is_bipartite_with_merges_and_competitors(
    district: tuple[MergePlan, Roster, Roster],
) -> None:
    plan, _, _ = district
    g = plan.graph()
    assert nx.is_bipartite(g)
    merges = [(a, s) for a, s, d in g.edges(data=True) if d["kind"] == "merge"]
    assert len(merges) == len(plan.merges)
    m = plan.review[0]
    edge = g.edges[("archived", m.archived_id), ("synced", m.synced_id)]
    assert (edge["decision"], edge["weight"]) == ("review", m.match_weight)
    for c in m.competitors:
        assert g.has_edge(("archived", c.archived_id), ("synced", c.synced_id))
    assert all(("archived", sid) in g for sid in plan.unmatched_archived)
    assert {d["bipartite"] for n, d in g.nodes(data=True) if n[0] == "synced"} == {1}


def test_the_python_blocks_in_docs_notebooks_md_run() -> None:
    """docs/notebooks.md's examples run as written (in a fresh interpreter, in order)."""
    import re  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    text = (Path(__file__).resolve().parent.parent / "docs" / "notebooks.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "plan_built " in done.stderr  # the Logging section's basicConfig turned logs on
    assert done.stdout.strip().endswith("True")
