"""The HTML report as text: escaping, self-containment, caps, and the `report` command."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import pytest
from conftest import FAST
from report_support import HOSTILE, QUOTED, hostile_case

from merge_engine import MergePlan, Roster, build_plan, write_roster
from merge_engine.cli import main
from merge_engine.testing.synthetic import generate_district
from merge_engine.views._html_report import MARKER, ReportLimits, reason_kind, render_report


def test_every_value_is_escaped() -> None:
    plan, archived, synced = hostile_case()
    html = render_report(plan, archived, synced)
    for raw in (HOSTILE, QUOTED, "<script>alert(1)</script>", "<i>Q9</i>", "<exact>", "<p>W9"):
        assert raw not in html
    assert "&lt;img src=x onerror=window.pwned=1&gt;" in html
    assert "O&#x27;Neil &quot;Zoë&quot; &amp; &lt;b&gt;Co&lt;/b&gt;" in html
    assert "&amp;amp;" in html  # an entity in the data stays text
    assert html.count("<script") == 1  # the page's own script only


def test_the_page_is_self_contained() -> None:
    plan, archived, synced = hostile_case()
    html = render_report(plan, archived, synced)
    assert html.startswith(MARKER)
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(", html)
    assert "default-src 'none'" in html  # the browser refuses any fetch the page might make


@pytest.fixture(scope="module")
def district() -> tuple[MergePlan, Roster, Roster]:
    d = generate_district(500, seed=5)
    return build_plan(d.archived, d.synced, FAST), d.archived, d.synced


def test_every_review_pair_shows_both_records_and_its_reasons(
    district: tuple[MergePlan, Roster, Roster],
) -> None:
    plan, archived, synced = district
    html = render_report(plan, archived, synced)
    by_id = {s.id: s for s in (*archived.students, *synced.students)}
    assert plan.review
    for m in plan.review:
        card = html.split(f'id="pair-{m.archived_id}-{m.synced_id}"', 1)[1].split("</article>")[0]
        for sid in (m.archived_id, m.synced_id):
            assert escape(by_id[sid].last_name) in card
            assert escape(by_id[sid].first_name) in card
        for reason in m.reasons:
            assert escape(reason) in card
        assert card.count('<svg class="waterfall"') == 1


def test_the_histogram_draws_both_thresholds(district: tuple[MergePlan, Roster, Roster]) -> None:
    plan, archived, synced = district
    html = render_report(plan, archived, synced)
    svg = html.split('<svg class="histogram"', 1)[1].split("</svg>", 1)[0]
    assert svg.count('class="threshold"') == 2
    assert "auto 0.99" in svg and "review floor 0.3" in svg
    bins = set(re.findall(r"(-?\d+) to -?\d+ bits: (\d+) auto, (\d+) review", svg))
    assert sum(int(a) for _, a, _ in bins) == len(plan.auto)
    assert sum(int(r) for _, _, r in bins) == len(plan.review)


def test_big_lists_are_cut_with_a_note(district: tuple[MergePlan, Roster, Roster]) -> None:
    plan, archived, synced = district
    html = render_report(plan, archived, synced, limits=ReportLimits(review=10_000, rows=5))
    auto = html.split('id="auto"', 1)[1].split("</section>", 1)[0]
    assert auto.count('<tr class="row">') == 5
    assert f"Showing 5 of {len(plan.auto):,} auto merges" in auto
    review = html.split('id="review"', 1)[1].split("</section>", 1)[0]
    assert review.count('<article class="row card"') == len(plan.review)  # in full
    few = render_report(plan, archived, synced, limits=ReportLimits(review=1, rows=5))
    assert f"Showing 1 of {len(plan.review):,} review merges" in few


def test_without_rosters_only_ids_show(district: tuple[MergePlan, Roster, Roster]) -> None:
    plan, archived, _ = district
    html = render_report(plan)
    assert "Names are not shown" in html
    assert archived.students[0].id in html or archived.students[0].id in plan.unmatched_archived
    first = {s.first_name for s in archived.students}
    assert not any(f">{name} " in html for name in first)


def test_reason_kinds_group_numbers() -> None:
    assert reason_kind("a competing candidate is within 0.4 bits") == reason_kind(
        "a competing candidate is within 3 bits"
    )


def test_a_changed_record_is_flagged(district: tuple[MergePlan, Roster, Roster]) -> None:
    import attrs  # noqa: PLC0415

    plan, archived, synced = district
    m = plan.review[0]
    changed = Roster(
        [attrs.evolve(s, grade=(s.grade or 0) + 1) if s.id == m.archived_id else s
         for s in archived.students]
    )  # fmt: skip
    html = render_report(plan, changed, synced)
    assert f"archived {m.archived_id} changed since planning" in html


# -- the command ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("district")
    d = generate_district(200, seed=4)
    write_roster(d.archived, root / "archived")
    write_roster(d.synced, root / "synced")
    (root / "fast.toml").write_text("random_pairs = 30000\n", encoding="utf-8")
    plan = root / "plan.json"
    args = ["plan", "--archived", str(root / "archived"), "--synced", str(root / "synced")]
    assert main([*args, "--out", str(plan), "--settings", str(root / "fast.toml")]) == 0
    return root / "archived", root / "synced", plan


def test_report_command_writes_the_page(
    folders: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archived, synced, plan = folders
    out = tmp_path / "report.html"
    args = ["report", str(plan), "--archived", str(archived), "--synced", str(synced)]
    assert main([*args, "--out", str(out)]) == 0
    assert f"report written to {out}" in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    assert html.startswith(MARKER) and "Contact audit:" in html
    assert main([*args, "--out", str(out)]) == 0  # an earlier report is replaced


def test_report_command_never_overwrites_another_file(
    folders: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, plan = folders
    before = plan.read_bytes()
    assert main(["report", str(plan), "--out", str(plan)]) == 2
    assert "is not a merge-engine report" in capsys.readouterr().err
    assert plan.read_bytes() == before


def test_report_command_reads_a_database(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    archived, synced, plan = folders
    db = f"sqlite:///{tmp_path / 'district.db'}"
    assert main(["load", "--db", db, "--archived", str(archived), "--synced", str(synced)]) == 0
    out = tmp_path / "db.html"
    assert main(["report", str(plan), "--db", db, "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "Names are not shown" not in html
    assert "changed since planning" not in html
