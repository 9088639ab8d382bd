"""Applying plans: what moves, what is refused, and that nothing is lost or applied twice."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import structlog
from apply_support import (
    BULK_MODES,
    DAYS,
    FaultyStorage,
    district,
    hand_plan,
    make_storage,
    nonzero,
    plan_of,
    signature,
    state,
    tiny_storage,
    without_bookkeeping,
)

from merge_engine.applying._apply import ApplyReport, MergeOutcome, apply_plan, audit_history
from merge_engine.applying._undo import undo_plan
from merge_engine.exceptions import PlanError, SafetyValveError, TransientConflict
from merge_engine.storage import InMemoryStorage
from merge_engine.storage._base import GuardianLink, HistoryRow, HistoryTable, StorageAdapter


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageAdapter:
    """The 120-student synthetic district with history, on each adapter."""
    s = make_storage(request.param, district(), tmp_path)
    yield s  # type: ignore[misc]
    s.close()


class TestApplyOnADistrict:
    def test_applies_auto_merges_and_conserves_every_row(self, storage: StorageAdapter) -> None:
        """Every auto merge applies; history rows (plus rows set aside) keep their multiset."""
        plan = plan_of()
        before = signature(storage, plan)

        report = apply_plan(plan, storage)

        assert len(plan.auto) == report.counts["applied"]
        assert len(plan.review) == report.counts.get("skipped_review", 0)
        assert before == signature(storage, plan)
        assert report.set_aside.get("attendance", 0) > 0  # the district has same-day collisions
        assert report.ok

    def test_merged_students_keep_no_history_and_point_at_their_twin(
        self, storage: StorageAdapter
    ) -> None:
        """After apply, each merged archived student has no rows and merged_into is its twin."""
        plan = plan_of()

        apply_plan(plan, storage)

        with storage.transaction() as tx:
            tables = [t.name for t in tx.history_tables()]
            for m in plan.auto:
                stored = tx.students([m.archived_id])[m.archived_id]
                assert m.synced_id == stored.merged_into
                assert [r for t in tables for r in tx.history_rows(t, m.archived_id)] == []
        assert {m.archived_id for m in plan.auto} == {
            r.archived_id for r in audit_history(storage) if r.action == "apply"
        }

    def test_reapplying_is_a_no_op(self, storage: StorageAdapter) -> None:
        """A second apply writes nothing, adds no audit rows and reports already_applied."""
        plan = plan_of()
        apply_plan(plan, storage)
        after_first = state(storage, plan)

        again = apply_plan(plan, storage)

        expected = nonzero(already_applied=len(plan.auto), skipped_review=len(plan.review))
        assert expected == again.counts
        assert after_first == state(storage, plan)

    def test_dry_run_changes_nothing_and_predicts_the_apply(self, storage: StorageAdapter) -> None:
        """A dry run reports the same counts the real apply then produces, and writes nothing."""
        plan = plan_of()
        before = state(storage, plan)

        dry = apply_plan(plan, storage, dry_run=True)
        assert before == state(storage, plan)
        real = apply_plan(plan, storage)

        assert dry.dry_run
        assert (real.counts, real.rows, real.set_aside, real.links) == (
            dry.counts, dry.rows, dry.set_aside, dry.links,
        )  # fmt: skip

    def test_batch_size_does_not_change_the_result(self, tmp_path: Path) -> None:
        """One merge per transaction and all merges in one give the same final state."""
        plan = plan_of()
        one = make_storage("memory", district(), tmp_path)
        many = make_storage("memory", district(), tmp_path)

        apply_plan(plan, one, batch_size=1)
        apply_plan(plan, many, batch_size=10_000)

        assert without_bookkeeping(state(one, plan)) == without_bookkeeping(state(many, plan))

    @pytest.mark.parametrize("mode", BULK_MODES)
    @pytest.mark.parametrize("kind", ["memory", "sqlite"])
    def test_bulk_methods_do_not_change_the_result(
        self, kind: str, mode: str, tmp_path: Path
    ) -> None:
        """Batch-level reads and writes (used, failing, reads only, hidden) end in one state."""
        plan = plan_of()
        plain = make_storage(kind, district(), tmp_path)
        proxied = make_storage(kind, district(), tmp_path)
        pristine = without_bookkeeping(state(plain, plan))

        for batch_size in (7, 500):
            expected = apply_plan(plan, plain, batch_size=batch_size)
            got = apply_plan(plan, FaultyStorage(proxied, bulk=mode), batch_size=batch_size)
            assert expected.outcomes == got.outcomes
            assert state(plain, plan) == state(proxied, plan)
            expected = undo_plan(plan, plain, batch_size=batch_size)
            got = undo_plan(plan, FaultyStorage(proxied, bulk=mode), batch_size=batch_size)
            assert expected.outcomes == got.outcomes
            assert state(plain, plan) == state(proxied, plan)
            assert pristine == without_bookkeeping(state(proxied, plan))

    def test_a_failing_batch_level_write_redoes_the_batch_one_merge_at_a_time(self) -> None:
        plan = plan_of()
        inner = make_storage("memory", district(), Path())
        flaky = FaultyStorage(inner, lambda n: n == 2)

        report = apply_plan(plan, flaky, batch_size=1000)

        assert flaky.failures == 1
        assert len(plan.auto) == report.counts["applied"]
        clean = make_storage("memory", district(), Path())
        apply_plan(plan, clean)
        assert without_bookkeeping(state(clean, plan)) == without_bookkeeping(state(inner, plan))

    def test_progress_reaches_the_total(self) -> None:
        """The progress callback starts at 0 and ends at (total, total)."""
        plan = plan_of()
        calls: list[tuple[int, int]] = []

        apply_plan(plan, make_storage("memory", district(), Path()), batch_size=7,
                   progress=lambda done, total: calls.append((done, total)))  # fmt: skip

        assert (0, len(plan.auto)) == calls[0]
        assert (len(plan.auto), len(plan.auto)) == calls[-1]


class TestStaleAndRefused:
    def test_an_edited_student_is_refused_and_the_others_apply(self) -> None:
        """Editing one archived student after planning makes only its merge stale."""
        plan = plan_of()
        storage = make_storage("memory", district(), Path())
        victim = plan.auto[3]
        with storage.transaction() as tx:
            tx.add_guardian_link(GuardianLink(victim.archived_id, _any_guardian(tx), "Aunt"))
        before = state(storage, plan)

        report = apply_plan(plan, storage)

        outcome = _outcome(report, victim.archived_id)
        assert outcome.status == "stale"
        assert "changed since planning" in outcome.reason
        assert len(plan.auto) - 1 == report.counts["applied"]
        with storage.transaction() as tx:
            assert tx.students([victim.archived_id])[victim.archived_id].merged_into is None
        # nothing of the refused merge was written: its archived student's rows are untouched
        assert [r for r in before["rows"]["notes"] if r[0] == victim.archived_id] == [
            r for r in state(storage, plan)["rows"]["notes"] if r[0] == victim.archived_id
        ]

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ("unarchive", "no longer archived"),
            ("delete", "no longer exists"),
            ("archive_synced", "synced student s1 is archived"),
            ("merged_elsewhere", "already merged into s3"),
        ],
    )
    def test_changed_students_are_refused(self, change: str, expected: str) -> None:
        """Un-archived, deleted, archived-synced and merged-elsewhere students are refused."""
        planned = tiny_storage()
        plan = hand_plan(planned, [("a1", "s1"), ("a2", "s2")])
        archived, synced = planned.read_roster("archived"), planned.read_roster("synced")
        a1 = next(s for s in archived.students if s.id == "a1")
        s1 = next(s for s in synced.students if s.id == "s1")
        rest_a = [s for s in archived.students if s.id != "a1"]
        rest_s = [s for s in synced.students if s.id != "s1"]
        if change == "unarchive":
            more_synced = attrs.evolve(synced, students=[*synced.students, a1])
            storage = InMemoryStorage(attrs.evolve(archived, students=rest_a), more_synced)
        elif change == "delete":
            storage = InMemoryStorage(attrs.evolve(archived, students=rest_a), synced)
        elif change == "archive_synced":
            storage = InMemoryStorage(attrs.evolve(archived, students=[*archived.students, s1]),
                                      attrs.evolve(synced, students=rest_s))  # fmt: skip
        else:
            storage = tiny_storage()
            apply_plan(hand_plan(storage, [("a1", "s3")], tag="other"), storage)

        report = apply_plan(plan, storage)

        outcome = _outcome(report, "a1")
        assert outcome.status == "stale"
        assert expected in outcome.reason
        assert _outcome(report, "a2").status == "applied"

    def test_already_merged_into_the_same_student_by_another_plan(self) -> None:
        """Another plan's identical merge counts as already applied, not as stale."""
        storage = tiny_storage()
        first = hand_plan(storage, [("a1", "s1")], tag="first")
        second = hand_plan(storage, [("a1", "s1"), ("a2", "s2")], tag="second")
        apply_plan(first, storage)

        report = apply_plan(second, storage)

        assert _outcome(report, "a1").status == "already_applied"
        assert _outcome(report, "a2").status == "applied"


class TestCollisionsAndLinks:
    def test_same_day_attendance_keeps_the_synced_row_and_journals_the_archived_one(
        self,
    ) -> None:
        """On a (student, day) collision the synced row stays; the archived one is journaled."""
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])

        report = apply_plan(plan, storage)

        with storage.transaction() as tx:
            days = {r.values["day"]: r.key for r in tx.history_rows("attendance", "s1")}
            entry = tx.journal(report.plan_fingerprint, "a1")
        assert {DAYS[0]: (20,), DAYS[1]: (11,)} == days
        assert entry is not None
        row = {"id": 10, "student_id": "a1", "day": DAYS[0], "status": "present"}
        assert [HistoryRow("attendance", (10,), row)] == list(entry.set_aside)
        assert dict(_outcome(report, "a1").set_aside) == {"attendance": 1}

    def test_archived_survivor_rule_keeps_the_archived_row(self) -> None:
        """With survivor='archived' the synced row is set aside and the archived one moves in."""
        tables = (HistoryTable("messages"), HistoryTable("notes"),
                  HistoryTable("attendance", unique=("day",), survivor="archived"))  # fmt: skip
        storage = tiny_storage(tables)
        plan = hand_plan(storage, [("a1", "s1")])

        report = apply_plan(plan, storage)

        with storage.transaction() as tx:
            days = {r.values["day"]: r.key for r in tx.history_rows("attendance", "s1")}
            entry = tx.journal(report.plan_fingerprint, "a1")
        assert {DAYS[0]: (10,), DAYS[1]: (11,)} == days
        assert entry is not None
        assert [r.key for r in entry.set_aside] == [(20,)]

    def test_guardian_links_missing_on_the_synced_student_are_added(self) -> None:
        """Links the synced student lacks are added; shared links are not doubled; the archived
        student keeps its own links."""
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1"), ("a2", "s2")])

        report = apply_plan(plan, storage)

        with storage.transaction() as tx:
            s1 = [lk.guardian_id for lk in tx.guardian_links("s1")]
            s2 = [lk.guardian_id for lk in tx.guardian_links("s2")]
            a1 = [lk.guardian_id for lk in tx.guardian_links("a1")]
        assert s1 == ["ga1", "ga2", "gs1"]
        assert s2 == ["ga3"]
        assert a1 == ["ga1", "ga2"]
        assert report.links == 2

    def test_duplicates_of_one_child_both_merge_into_the_same_student(self) -> None:
        """Two archived records of one child both apply, though the first changes the target."""
        storage = tiny_storage()
        archived = storage.read_roster("archived")
        plan = hand_plan(storage, [("a1", "s1"), ("a3", "s1")])
        assert len(archived.students) == 3

        report = apply_plan(plan, storage)

        assert report.counts == {"applied": 2}


class TestReviewAndApprovals:
    def test_review_merges_apply_only_when_approved(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1"), ("a2", "s2")], review=["a2"])

        first = apply_plan(plan, storage)
        second = apply_plan(plan, storage, approved={"a2"})

        assert _outcome(first, "a2").status == "skipped_review"
        assert _outcome(second, "a2").status == "applied"
        assert _outcome(second, "a1").status == "already_applied"

    def test_unknown_approved_ids_are_an_error(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")], review=["a1"])

        with pytest.raises(PlanError, match="not archived ids of this plan"):
            apply_plan(plan, storage, approved={"a9"})


class TestSafetyValve:
    def test_an_empty_sync_is_refused_unless_forced(self) -> None:
        """No synced students at all means the sync was not loaded: refuse, say --force."""
        planned = tiny_storage()
        plan = hand_plan(planned, [("a1", "s1")])
        storage = InMemoryStorage(planned.read_roster("archived"), None)

        with pytest.raises(SafetyValveError, match="--force"):
            apply_plan(plan, storage)
        forced = apply_plan(plan, storage, force=True)

        assert _outcome(forced, "a1").status == "stale"

    def test_mass_staleness_is_refused_and_a_dry_run_reports_it(self) -> None:
        """More than 10% stale merges (and at least 5) trips the valve; a dry run only warns."""
        plan = plan_of()
        storage = make_storage("memory", district(), Path())
        with storage.transaction() as tx:
            guardian = _any_guardian(tx)
            for m in plan.auto[: len(plan.auto) // 5]:
                if guardian not in {lk.guardian_id for lk in tx.guardian_links(m.synced_id)}:
                    tx.add_guardian_link(GuardianLink(m.synced_id, guardian, None))
        before = state(storage, plan)

        with pytest.raises(SafetyValveError, match="stale"):
            apply_plan(plan, storage)
        dry = apply_plan(plan, storage, dry_run=True)

        assert before == state(storage, plan)
        assert any("stale" in w for w in dry.warnings)
        assert len(dry.by_status("stale")) >= len(plan.auto) // 5 - 1

    def test_a_shrunken_sync_is_refused(self) -> None:
        plan = plan_of()
        d = district()
        half = attrs.evolve(d.synced, students=d.synced.students[: len(d.synced.students) // 3])
        storage = InMemoryStorage(d.archived, half)

        with pytest.raises(SafetyValveError, match="less than 50%"):
            apply_plan(plan, storage)


class TestRetriesAndFailures:
    def test_transient_conflicts_are_retried(self) -> None:
        plan = plan_of()
        inner = make_storage("memory", district(), Path())
        busy = lambda: TransientConflict("busy")  # noqa: E731
        flaky = FaultyStorage(inner, lambda n: n in (3, 40), error=busy, bulk="fail")

        report = apply_plan(plan, flaky)

        assert len(plan.auto) == report.counts["applied"]
        assert flaky.failures == 2

    def test_persistent_conflicts_are_reported_not_raised(self) -> None:
        plan = plan_of()
        inner = make_storage("memory", district(), Path())
        always = FaultyStorage(inner, lambda n: True, error=lambda: TransientConflict("busy"))

        report = apply_plan(plan, always, max_retries=2, batch_size=1000)

        assert nonzero(conflict=len(plan.auto), skipped_review=len(plan.review)) == report.counts
        assert not report.ok

    def test_a_failing_merge_is_reported_and_the_rest_of_its_batch_applies(self) -> None:
        plan = plan_of()
        inner = make_storage("memory", district(), Path())
        flaky = FaultyStorage(inner, lambda n: n == 30, bulk="fail")

        report = apply_plan(plan, flaky, batch_size=1000)

        assert report.counts["failed"] == 1
        assert len(plan.auto) - 1 == report.counts["applied"]
        assert "injected write failure" in report.by_status("failed")[0].reason


class TestReportAndPrivacy:
    def test_report_reads_well_and_round_trips_to_dict(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1"), ("a2", "s2")], review=["a2"])

        report = apply_plan(plan, storage)

        assert repr(report).startswith(f"<ApplyReport apply of plan {report.plan_fingerprint}: ")
        assert "1 merges applied" in report.summary()
        assert "history rows moved: attendance 1, messages 2, notes 1" in report.summary()
        assert report.to_dict()["counts"] == {"applied": 1, "skipped_review": 1}
        assert isinstance(report, ApplyReport)

    def test_no_names_or_birth_dates_in_reports_logs_or_audit(self) -> None:
        """Canary names and dates from the rosters never appear in what apply produces."""
        d = district()
        plan = plan_of()
        storage = make_storage("memory", d, Path())
        with structlog.testing.capture_logs() as logs:
            report = apply_plan(plan, storage, dry_run=True)
            report = apply_plan(plan, storage)
        text = " ".join([repr(report), report.summary(), repr(report.to_dict()), repr(logs),
                         repr(audit_history(storage))])  # fmt: skip
        canaries = {s.last_name for s in d.archived.students if len(s.last_name) > 3}
        canaries |= {s.dob.isoformat() for s in d.archived.students if s.dob}

        assert sorted(c for c in canaries if c in text) == []


def _outcome(report: ApplyReport, archived_id: str) -> MergeOutcome:
    return next(o for o in report.outcomes if o.archived_id == archived_id)


def _any_guardian(tx: object) -> str:
    """A guardian id that exists (taken from some archived student's links)."""
    links: list[GuardianLink] = []
    for sid in ("a000001", "a000002", "a000003", "a1"):
        links += tx.guardian_links(sid)  # type: ignore[attr-defined]
    return links[0].guardian_id
