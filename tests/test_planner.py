"""build_plan on hand-built cases (embedded in a small generated district) and a quality guard."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any

import attrs
import pytest
from conftest import FAST, contact, evidence_level, merges_by_archived
from planner_support import kid, plan_with, targets

from merge_engine import InputError, Roster, build_plan
from merge_engine.matching._blocking import BLOCKING_RULES, DUPLICATE_ONLY_RULES
from merge_engine.matching._comparisons import COMPARISONS
from merge_engine.plan import MergePlan
from merge_engine.testing.synthetic import SyntheticDistrict, generate_district

# --- siblings and twins ------------------------------------------------------------------


def test_twins_each_get_their_own_twin(background: SyntheticDistrict) -> None:
    """Twins (same dob, surname, guardians, school) are matched to themselves, never crossed."""
    plan = plan_with(
        background,
        [kid("xa1", "Oliver"), kid("xa2", "Henry")],
        [kid("xs1", "Oliver", synced=True), kid("xs2", "Henry", synced=True)],
    )
    assert targets(plan, "xa1") == [("xs1", "auto")]
    assert targets(plan, "xa2") == [("xs2", "auto")]


@pytest.mark.parametrize("stays", ["Oliver", "Henry"])
def test_twin_who_left_is_not_merged_into_the_other(
    background: SyntheticDistrict, stays: str
) -> None:
    """When only one twin was synced, the other twin is not merged into it: at most it is
    proposed for review (a child typed twice under another given name looks the same),
    with a reason naming the twin that took the synced record."""
    ids = {"Oliver": "xa1", "Henry": "xa2"}
    left = "xa2" if stays == "Oliver" else "xa1"
    plan = plan_with(
        background,
        [kid("xa1", "Oliver"), kid("xa2", "Henry")],
        [kid("xs1", stays, synced=True)],
    )
    assert targets(plan, ids[stays]) == [("xs1", "auto")]
    assert targets(plan, left) == [("xs1", "review")]
    (reason,) = next(m.reasons for m in plan.merges if m.archived_id == left)
    assert f"taken by archived {ids[stays]}" in reason and "a twin who left" in reason


def test_sibling_who_left_is_not_merged_into_the_sibling(background: SyntheticDistrict) -> None:
    """An older sibling who left is not merged into the younger one who stayed."""
    plan = plan_with(
        background,
        [kid("xa1", "Oliver", dob=dt.date(2011, 2, 2), grade=6), kid("xa2", "Henry")],
        [kid("xs2", "Henry", synced=True)],
    )
    assert targets(plan, "xa2") == [("xs2", "auto")]
    assert all(d != "auto" for _, d in targets(plan, "xa1"))
    assert "xa1" in plan.unmatched_archived


def test_similar_named_twins_are_never_crossed(background: SyntheticDistrict) -> None:
    """Aiden and Aidan, both synced: each goes to its own record (review), never to the other."""
    plan = plan_with(
        background,
        [kid("xa1", "Aiden"), kid("xa2", "Aidan")],
        [kid("xs1", "Aiden", synced=True), kid("xs2", "Aidan", synced=True)],
    )
    assert [s for s, _ in targets(plan, "xa1")] == ["xs1"]
    assert [s for s, _ in targets(plan, "xa2")] == ["xs2"]
    for merge in (*merges_by_archived(plan)["xa1"], *merges_by_archived(plan)["xa2"]):
        # the names are one letter apart: too close to call without a human
        assert merge.decision == "review"
        assert merge.margin_bits is not None
        assert merge.margin_bits < FAST.margin_bits


@pytest.mark.parametrize(
    ("archived", "synced", "decision"),
    [
        ({"first": "Cornelio", "gender": "M"}, {"first": "Cornelia", "gender": "F"}, "review"),
        ({"first": "Aidan"}, {"first": "Aiden", "gender": "M"}, "auto"),
        ({"first": "Aidan", "middle_name": "Lee"}, {"first": "Aiden", "middle_name": "Ray"},
         "review"),
        ({"first": "Aidan", "gender": "M"}, {"first": "Aiden", "gender": "M"}, "auto"),
        ({"first": "Aidan", "middle_name": "Lee"}, {"first": "Aiden", "middle_name": "L"},
         "auto"),
    ],
)  # fmt: skip
def test_a_twin_who_left_with_a_name_one_letter_off(
    background: SyntheticDistrict,
    archived: dict[str, Any],
    synced: dict[str, Any],
    decision: str,
) -> None:
    """The remaining twin has the same birth date, guardians and address and a given name
    one typo away: auto only when something of the child alone agrees, never when one
    disagrees."""
    a, s = dict(archived), dict(synced)
    plan = plan_with(
        background,
        [kid("xa1", a.pop("first"), **a)],
        [kid("xs1", s.pop("first"), synced=True, **s)],
    )
    [merge] = merges_by_archived(plan)["xa1"]
    assert ("xs1", decision) == (merge.synced_id, merge.decision)
    if decision == "review":
        assert any("a twin, not a typo" in r for r in merge.reasons)


def test_a_typo_without_child_evidence_can_be_sent_to_review(
    background: SyntheticDistrict,
) -> None:
    """typo_needs_child_evidence: a typo'd given name needs gender, middle name or an
    identifier to agree before it is merged automatically."""
    strict = attrs.evolve(FAST, typo_needs_child_evidence=True)
    plan = plan_with(
        background, [kid("xa1", "Aidan")], [kid("xs1", "Aiden", synced=True)], config=strict
    )
    [merge] = merges_by_archived(plan)["xa1"]
    assert ("xs1", "review") == (merge.synced_id, merge.decision)
    assert any("a typo or a twin" in r for r in merge.reasons)


def test_a_second_record_with_a_nickname_and_other_contacts_is_proposed(
    background: SyntheticDistrict,
) -> None:
    """A child typed twice without a birth date, the second time by nickname and with another
    parent's contacts: the second record goes to review with the first one's student."""
    other = [contact("gq-x", "(718) 555-0190", "someone.else@example.org")]
    bare = {"street": None, "zip": None}
    plan = plan_with(
        background,
        [kid("xa1", "Lucy", dob=None), kid("xa2", "Lucinda", dob=None, contacts=other, **bare)],
        [kid("xs1", "Lucy", dob=None, synced=True)],
    )
    assert [s for s, _ in targets(plan, "xa1")] == ["xs1"]
    [merge] = merges_by_archived(plan)["xa2"]
    assert ("xs1", "review") == (merge.synced_id, merge.decision)
    assert any("possible duplicate of archived xa1" in r for r in merge.reasons)


def test_archived_child_typed_twice_goes_to_one_student(background: SyntheticDistrict) -> None:
    """Two archived records of one child (same name, same dob) both merge into its synced record."""
    plan = plan_with(
        background,
        [kid("xa1", "Oliver"), kid("xa2", "OLIVER", gender="M")],
        [kid("xs1", "Oliver", synced=True)],
    )
    by_id = merges_by_archived(plan)
    assert targets(plan, "xa1") == [("xs1", "auto")]
    assert targets(plan, "xa2") == [("xs1", "auto")]
    assert by_id["xa1"][0].duplicates == ("xa2",)
    assert by_id["xa2"][0].duplicates == ("xa1",)
    assert plan.stats["archived_duplicate_records"] >= 1


def test_nickname_with_same_dob_and_guardian_is_auto(background: SyntheticDistrict) -> None:
    """Bill in the archive is William in the sync: same dob and guardian make it an auto merge."""
    plan = plan_with(background, [kid("xa1", "Bill")], [kid("xs1", "William", synced=True)])
    [merge] = merges_by_archived(plan)["xa1"]
    assert (merge.synced_id, merge.decision) == ("xs1", "auto")
    assert evidence_level(merge, "first_name") == "nickname"
    assert evidence_level(merge, "dob") == "exact"
    assert evidence_level(merge, "guardian") == "phone_and_email"


def test_different_birth_date_goes_to_review(background: SyntheticDistrict) -> None:
    """Same name and household but a different birth date is proposed for review, not merged."""
    plan = plan_with(
        background,
        [kid("xa1", "Oliver")],
        [kid("xs1", "Oliver", dob=dt.date(2013, 11, 27), synced=True)],
    )
    [merge] = merges_by_archived(plan)["xa1"]
    assert (merge.synced_id, merge.decision) == ("xs1", "review")
    assert "birth dates differ" in merge.reasons


def test_rare_exact_names_alone_are_auto_common_ones_go_to_review(
    background: SyntheticDistrict,
) -> None:
    """Name, grade and school agreeing without a dob, identifier or guardian: auto only when
    the district's name frequencies predict almost no namesake in the grade band."""
    bare = {"dob": None, "contacts": [], "street": None, "zip": None}
    rare = plan_with(
        background,
        [kid("xa1", "Thaddeus", last="Vanterpool", **bare)],
        [kid("xs1", "Thaddeus", last="Vanterpool", synced=True, **bare)],
    )
    [merge] = merges_by_archived(rare)["xa1"]
    assert (merge.synced_id, merge.decision) == ("xs1", "auto")
    assert evidence_level(merge, "names_only").endswith("namesakes expected")

    firsts = Counter(s.first_name for s in background.synced.students)
    lasts = Counter(s.last_name for s in background.synced.students)
    first, last = firsts.most_common(1)[0][0], lasts.most_common(1)[0][0]
    common = plan_with(
        background,
        [kid("xa1", first, last=last, **bare)],
        [kid("xs1", first, last=last, synced=True, **bare)],
        config=attrs.evolve(FAST, max_expected_namesakes=0.0001),
    )
    [merge] = merges_by_archived(common)["xa1"]
    assert (merge.synced_id, merge.decision) == ("xs1", "review")
    assert any("no birth date, identifier or guardian" in r for r in merge.reasons)
    expected = float(evidence_level(merge, "names_only").split()[0])
    assert expected > 0.0001


def test_a_rare_name_with_other_parents_is_not_a_names_only_merge(
    background: SyntheticDistrict,
) -> None:
    """Different guardians (by contact and by name) or another street speak against a pair
    on which only the names agree: review, however rare the name."""
    other = [contact("gq-z", "(718) 555-0111", "z@example.org", first_name="Xiu",
                     last_name="Zhu")]  # fmt: skip
    plan = plan_with(
        background,
        [kid("xa1", "Thaddeus", last="Vanterpool", dob=None)],
        [kid("xs1", "Thaddeus", last="Vanterpool", dob=None, synced=True, contacts=other,
             street="4 Elm Road")],
    )  # fmt: skip
    [merge] = merges_by_archived(plan)["xa1"]
    assert ("xs1", "review") == (merge.synced_id, merge.decision)


def test_a_guardian_known_by_name_anchors_a_pair_in_the_same_class(
    background: SyntheticDistrict,
) -> None:
    """The parent's phone and email changed, but the parent's name, the child's name, grade
    and school agree: a household anchor, even for a common name."""
    firsts = Counter(s.first_name for s in background.synced.students)
    lasts = Counter(s.last_name for s in background.synced.students)
    first, last = firsts.most_common(1)[0][0], lasts.most_common(1)[0][0]
    old = [contact("gq-a", "(212) 555-0147", "pat@old.example", first_name="Pat", last_name=last)]
    new = [contact("gq-s", "(917) 555-0100", "pat@new.example", first_name="PAT", last_name=last)]
    bare = {"dob": None, "street": None, "zip": None}
    plan = plan_with(
        background,
        [kid("xa1", first, last=last, contacts=old, **bare)],
        [kid("xs1", first, last=last, synced=True, contacts=new, **bare)],
        config=attrs.evolve(FAST, max_expected_namesakes=0.0),
    )
    [merge] = merges_by_archived(plan)["xa1"]
    assert "name_only" == evidence_level(merge, "guardian")
    assert ("xs1", "auto") == (merge.synced_id, merge.decision)


def test_grades_years_apart_without_a_birth_date_are_two_children(
    background: SyntheticDistrict,
) -> None:
    """Sofia in grade 7 last year is not the Sofia in grade 4 now, whatever they share."""
    plan = plan_with(
        background,
        [kid("xa1", "Sofia", dob=None, grade=7)],
        [kid("xs1", "Sofia", dob=None, grade=3, synced=True)],
    )
    [merge] = merges_by_archived(plan)["xa1"]
    assert ("xs1", "review") == (merge.synced_id, merge.decision)
    assert any("grades differ by more than a year" in r for r in merge.reasons)
    # with the same birth date, a grade typed wrong is only a typo
    plan = plan_with(
        background,
        [kid("xa1", "Sofia", grade=7)],
        [kid("xs1", "Sofia", grade=3, synced=True)],
    )
    assert not any("grades differ" in r for m in merges_by_archived(plan)["xa1"] for r in m.reasons)


def test_names_alone_need_both_names_exact(background: SyntheticDistrict) -> None:
    """A nickname or a surname typo is not a rare exact name: review."""
    bare = {"dob": None, "contacts": [], "street": None, "zip": None}
    plan = plan_with(
        background,
        [kid("xa1", "Theodore", last="Vanterpool", **bare)],
        [kid("xs1", "Teddy", last="Vanterpool", synced=True, **bare)],
    )
    [merge] = merges_by_archived(plan)["xa1"]
    assert (merge.synced_id, merge.decision) == ("xs1", "review")


def test_a_shared_guardian_anchors_a_names_only_pair(background: SyntheticDistrict) -> None:
    plan = plan_with(
        background,
        [kid("xa1", "Thaddeus", last="Vanterpool", dob=None)],
        [kid("xs1", "Thaddeus", last="Vanterpool", dob=None, synced=True)],
    )
    assert targets(plan, "xa1") == [("xs1", "auto")]
    [merge] = merges_by_archived(plan)["xa1"]
    assert "names_only" not in {e.comparison for e in merge.evidence}


def test_missing_given_name_is_never_auto(background: SyntheticDistrict) -> None:
    """A record whose given name is unusable (punctuation only) can only be proposed for review."""
    plan = plan_with(background, [kid("xa1", "?")], [kid("xs1", "Oliver", synced=True)])
    [merge] = merges_by_archived(plan)["xa1"]
    assert (merge.synced_id, merge.decision) == ("xs1", "review")
    assert evidence_level(merge, "first_name") == "missing"
    assert "a given name is missing" in merge.reasons


def test_no_synced_birth_dates_still_matches(background: SyntheticDistrict) -> None:
    """A sync without a dob column still matches on names, grades and guardians."""
    plan = plan_with(
        background,
        [kid("xa1", "Oliver"), kid("xa2", "Henry")],
        [kid("xs1", "Oliver", dob=None, synced=True), kid("xs2", "Henry", dob=None, synced=True)],
        synced_dob_column=False,
    )
    assert targets(plan, "xa1") == [("xs1", "auto")]
    assert targets(plan, "xa2") == [("xs2", "auto")]
    assert evidence_level(merges_by_archived(plan)["xa1"][0], "dob") == "missing"
    assert any("no birth dates" in w["message"] for w in plan.warnings)
    # and the background district still matches mostly right
    truth = background.truth
    autos = [m for m in plan.auto if m.archived_id in truth]
    assert len(autos) > 0.8 * sum(1 for v in truth.values() if v)
    assert sum(truth[m.archived_id] != m.synced_id for m in autos) <= 1


# --- the plan's content ------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan(background: SyntheticDistrict) -> MergePlan:
    return plan_with(
        background,
        [kid("xa1", "Oliver"), kid("xa2", "Henry"), kid("xa3", "Bill"), kid("xa4", "Aiden")],
        [kid("xs1", "Oliver", synced=True), kid("xs3", "William", synced=True)],
    )


def test_stats_record_the_work(plan: MergePlan, background: SyntheticDistrict) -> None:
    """Stats count the students, pairs compared and each blocking rule's pairs."""
    n_a, n_s = len(background.archived) + 4, len(background.synced) + 2
    stats = plan.stats
    assert (n_a, n_s) == (stats["archived_students"], stats["synced_students"])
    assert n_a * n_s == stats["pairs_possible"]
    assert len(plan.merges) <= stats["pairs_compared"] < stats["pairs_possible"] / 20
    assert set(BLOCKING_RULES) - DUPLICATE_ONLY_RULES | {"household"} == set(stats["blocking"])
    assert all(v["pairs"] >= 0 and v["skipped_keys"] == 0 for v in stats["blocking"].values())
    assert stats["duplicate_pairs_compared"] > 0
    assert stats["components"] >= 1


def test_evidence_lists_every_comparison(plan: MergePlan) -> None:
    """Each merge shows every comparison, in order, with a valid level and its bits."""
    names = [c.name for c in COMPARISONS]
    levels = {c.name: set(c.levels) for c in COMPARISONS}
    for merge in plan.merges:
        shown = [e for e in merge.evidence if e.comparison in levels]
        assert names == [e.comparison for e in shown]
        for e in shown:
            assert e.level in levels[e.comparison]
            if e.level == "missing":
                assert e.bits == 0.0
        extra = [e for e in merge.evidence if e.comparison not in levels]
        for e in extra:  # the cap lowers the score; namesakes and family only explain it
            assert (e.comparison == "given_name_conflict_cap" and e.bits < 0) or (
                e.comparison in ("names_only", "household") and e.bits == 0.0
            )


def test_match_weight_is_the_sum_of_the_evidence(plan: MergePlan) -> None:
    """A merge's weight is its evidence bits plus the prior."""
    prior = plan.model["prior"]
    prior_bits = math.log2(prior / (1 - prior))
    for merge in plan.merges:
        total = sum(e.bits for e in merge.evidence) + prior_bits
        assert merge.match_weight == pytest.approx(total, abs=0.01)
        assert merge.confidence == pytest.approx(1 / (1 + 2**-merge.match_weight), abs=1e-6)


def test_reasons_exactly_for_review(plan: MergePlan) -> None:
    """Every review merge says why; no auto merge has a reason."""
    assert plan.auto and plan.review
    assert all(m.reasons for m in plan.review)
    assert all(m.reasons == () for m in plan.auto)
    assert all(m.confidence >= FAST.auto_threshold for m in plan.auto)
    assert all(m.margin_bits is None or m.margin_bits >= FAST.margin_bits for m in plan.auto)


def test_unmatched_lists_are_exact_complements(
    plan: MergePlan, background: SyntheticDistrict
) -> None:
    """Unmatched ids are exactly the ids in no merge, on each side, sorted."""
    archived = {s.id for s in background.archived.students} | {"xa1", "xa2", "xa3", "xa4"}
    synced = {s.id for s in background.synced.students} | {"xs1", "xs3"}
    merged_a = {m.archived_id for m in plan.merges}
    merged_s = {m.synced_id for m in plan.merges}
    assert sorted(archived - merged_a) == list(plan.unmatched_archived)
    assert sorted(synced - merged_s) == list(plan.unmatched_synced)
    assert merged_a <= archived and merged_s <= synced


def test_merges_are_sorted_and_hashed(plan: MergePlan) -> None:
    """Merges are ordered by (archived, synced) and carry record hashes."""
    keys = [(m.archived_id, m.synced_id) for m in plan.merges]
    assert sorted(keys) == keys
    assert all(len(m.archived_hash) == 16 and len(m.synced_hash) == 16 for m in plan.merges)


def test_settings_and_model_are_recorded(plan: MergePlan) -> None:
    """The plan records the settings it was made with and the model it learnt."""
    assert FAST.to_dict() == plan.settings
    assert {c.name for c in COMPARISONS} == set(plan.model["comparisons"])


def test_empty_rosters() -> None:
    """Nothing in, nothing out, and no crash."""
    plan = build_plan(Roster(()), Roster(()), FAST)
    assert (plan.merges, plan.unmatched_archived, plan.unmatched_synced) == ((), (), ())


def test_single_pair_without_background() -> None:
    """A one-student district still plans, and the child finds itself."""
    a = kid("a1", "Oliver")
    plan = build_plan(Roster([a]), Roster([kid("s1", "Oliver", synced=True)]), FAST)
    assert [(m.synced_id,) for m in plan.merges] == [("s1",)]


# --- quality guard on generated districts --------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_quality_on_a_generated_district(seed: int) -> None:
    """Auto merges are (almost) never wrong, and auto+review finds nearly every true pair."""
    district = generate_district(1500, seed=seed)
    plan = build_plan(district.archived, district.synced)
    truth = district.truth
    false_auto = [m for m in plan.auto if truth[m.archived_id] != m.synced_id]
    assert len(false_auto) <= 1
    assert 1 - len(false_auto) / len(plan.auto) >= 0.999
    true_pairs = {(a, s) for a, s in truth.items() if s}
    found = {(m.archived_id, m.synced_id) for m in plan.merges} & true_pairs
    assert len(found) / len(true_pairs) >= 0.98


@pytest.mark.parametrize("side", ["archived", "synced"])
def test_a_roster_with_a_student_id_twice_is_refused_by_id_without_names(
    background: SyntheticDistrict, side: str
) -> None:
    """Both records would be planned (and applied) as one child: refused before planning,
    with the id and the side, and no name."""
    roster = getattr(background, side)
    first, second, *rest = roster.students
    twice = attrs.evolve(roster, students=(first, attrs.evolve(second, id=first.id), *rest))
    archived, synced = (
        (twice, background.synced) if side == "archived" else (background.archived, twice)
    )
    with pytest.raises(InputError, match=f"the {side} roster holds student id '{first.id}' twice"):
        build_plan(archived, synced)
    with pytest.raises(InputError) as raised:
        build_plan(archived, synced)
    assert second.first_name not in str(raised.value) and first.last_name not in str(raised.value)
