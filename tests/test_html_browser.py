"""The HTML report in a real headless Chromium: it loads offline, filters, and shows every pair.

Screenshots are written to the test's temporary folder (and looked at when
the page changes); the tests check what the browser renders, not the HTML.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium, require_browser
from conftest import FAST
from report_support import hostile_case

from merge_engine import MergePlan, Roster, build_plan
from merge_engine.accounts._contact_audit import audit_contacts
from merge_engine.testing.synthetic import generate_district
from merge_engine.views._html_report import render_report, write_report


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def district() -> tuple[MergePlan, Roster, Roster]:
    d = generate_district(500, seed=5)
    return build_plan(d.archived, d.synced, FAST), d.archived, d.synced


@pytest.fixture(scope="module")
def report(
    district: tuple[MergePlan, Roster, Roster], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    plan, archived, synced = district
    path = tmp_path_factory.mktemp("report") / "report.html"
    audit = audit_contacts(synced, archived, plan)
    write_report(path, render_report(plan, archived, synced, audit=audit))
    return path


def _open(browser: Any, path: Path, events: list[tuple[str, str]]) -> Any:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.on("console", lambda m: events.append((m.type, m.text)))
    page.on("pageerror", lambda e: events.append(("pageerror", str(e))))
    page.on("request", lambda r: events.append(("request", r.url)))
    page.goto(path.as_uri())
    return page


def test_require_browser_fails_in_ci_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's own rule: skip without a browser, fail with MERGE_ENGINE_REQUIRE_BROWSER=1."""
    import browser_support  # noqa: PLC0415

    monkeypatch.setattr(browser_support, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("MERGE_ENGINE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed"):
        require_browser()
    monkeypatch.setenv("MERGE_ENGINE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="MERGE_ENGINE_REQUIRE_BROWSER=1"):
        require_browser()


def test_the_page_loads_offline_without_errors(browser: Any, report: Path, tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    page = _open(browser, report, events)
    page.wait_for_load_state("load")
    page.screenshot(path=str(tmp_path / "top.png"))
    page.screenshot(path=str(tmp_path / "full.png"), full_page=True)
    assert [e for e in events if e[0] != "request"] == []  # no console message at all
    assert [url for kind, url in events if kind == "request"] == [report.as_uri()]
    assert (tmp_path / "full.png").stat().st_size > 20_000
    assert page.locator("svg.histogram line.threshold").count() == 2
    assert page.locator("#summary .stat").count() >= 12
    if os.environ.get("MERGE_ENGINE_SCREENSHOTS"):  # for a person to look at
        page.screenshot(path=os.environ["MERGE_ENGINE_SCREENSHOTS"], full_page=True)


def test_every_review_pair_is_found_with_both_records_and_reasons(
    browser: Any, report: Path, district: tuple[MergePlan, Roster, Roster]
) -> None:
    plan, archived, synced = district
    names = {s.id: s for s in (*archived.students, *synced.students)}
    page = _open(browser, report, [])
    assert plan.review
    for m in plan.review:
        card = page.locator(f"article[id='pair-{m.archived_id}-{m.synced_id}']")
        assert card.is_visible()
        text = card.inner_text()
        for sid in (m.archived_id, m.synced_id):
            assert sid in text
            assert names[sid].first_name in text and names[sid].last_name in text
        for reason in m.reasons:
            assert reason in text
        for c in m.competitors:
            assert f"competitor: {c.archived_id}" in text
        assert card.locator("svg.waterfall rect").count() >= 2


def test_search_filters_rows(
    browser: Any, report: Path, district: tuple[MergePlan, Roster, Roster], tmp_path: Path
) -> None:
    plan, _, _ = district
    page = _open(browser, report, [])
    cards = page.locator("article.card")
    assert cards.count() == len(plan.review) > 1
    target = plan.review[0]
    page.fill("#search", target.archived_id)
    visible = page.locator("article.card:visible")
    assert visible.count() >= 1
    shown = {visible.nth(i).get_attribute("id") for i in range(visible.count())}
    assert f"pair-{target.archived_id}-{target.synced_id}" in shown
    assert len(shown) < len(plan.review)
    assert "rows match" in page.inner_text("#match-count")
    page.screenshot(path=str(tmp_path / "searched.png"))
    # a word that is nowhere hides every row
    page.fill("#search", "zzqxnothing")
    assert page.locator(".row:visible").count() == 0
    page.fill("#search", "")
    assert page.locator("article.card:visible").count() == len(plan.review)
    assert page.inner_text("#match-count") == ""


def test_the_reason_filter_keeps_only_that_kind(
    browser: Any, report: Path, district: tuple[MergePlan, Roster, Roster]
) -> None:
    from merge_engine.views._html_report import reason_kind  # noqa: PLC0415

    plan, _, _ = district
    page = _open(browser, report, [])
    kind = reason_kind(plan.review[0].reasons[0])
    expected = sum(kind in {reason_kind(r) for r in m.reasons} for m in plan.review)
    page.select_option("#reason", kind)
    assert page.locator("article.card:visible").count() == expected
    assert page.inner_text("#review-count") == f"{expected} of {len(plan.review)} pairs shown"


def test_markup_in_names_is_shown_as_text_and_never_runs(browser: Any, tmp_path: Path) -> None:
    plan, archived, synced = hostile_case()
    path = tmp_path / "hostile.html"
    write_report(path, render_report(plan, archived, synced))
    events: list[tuple[str, str]] = []
    page = _open(browser, path, events)
    assert page.evaluate("window.pwned") is None
    assert page.locator("article.card img").count() == 0
    text = page.locator("article.card").inner_text()
    assert "<img src=x onerror=window.pwned=1>" in text
    assert "<script>alert(1)</script> is close" in text
    assert [e for e in events if e[0] in ("error", "pageerror")] == []
    page.screenshot(path=str(tmp_path / "hostile.png"))
