"""Households as units: families found on both sides at once decide nothing about which
child a record is, but anchor pairs whose names agree and bring forward pairs no name rule
compares (issue 10)."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest
from conftest import FAST, contact
from planner_support import kid, plan_with, targets

from merge_engine import Roster, Settings, SettingsError, build_plan
from merge_engine.matching._features import Vocabularies, encode_students
from merge_engine.matching._households import find_families
from merge_engine.model import Contact, Student

NO_HOUSEHOLDS = attrs.evolve(FAST, household_max_children=0)
OLD_EMAIL = "quixby.family@example.net"
NEW_EMAIL = "pat.quixby@example.org"
PHONE = "212-555-0198"


def child(student_id: str, first: str, contacts: list[Contact], **kw: object) -> Student:
    """A Quixby child without a birth date or address (the common hand-typed roster)."""
    fields = {"dob": None, "street": None, "zip": None, "contacts": contacts, **kw}
    return kid(student_id, first, **fields)  # type: ignore[arg-type]


def family(synced_first: str = "Mia") -> tuple[list[Student], list[Student]]:
    """Mia's archived record carries only an old email; her brother Leo's carries the old
    email and the phone; the sync lists the phone and a new email for both children. Mia's
    own guardians share nothing across the two sides; her family does."""
    archived = [
        child("ha-mia", "Mia", [contact("g-old", email=OLD_EMAIL)]),
        child("ha-leo", "Leo", [contact("g-old2", PHONE, OLD_EMAIL)], grade=5),
    ]
    synced_contacts = [contact("g-new", PHONE, NEW_EMAIL)]
    synced = [
        child("hs-mia", synced_first, synced_contacts, synced=True),
        child("hs-leo", "Leo", synced_contacts, grade=5, synced=True),
    ]
    return archived, synced


def evidence(plan: object, archived_id: str) -> dict[str, str]:
    merge = next(m for m in plan.merges if m.archived_id == archived_id)  # type: ignore[attr-defined]
    return {e.comparison: e.level for e in merge.evidence}


def test_child_whose_own_contacts_changed_is_anchored_by_the_family(background):
    archived, synced = family()
    with_households = plan_with(background, archived, synced)
    assert targets(with_households, "ha-mia") == [("hs-mia", "auto")]
    shown = evidence(with_households, "ha-mia")
    assert shown["guardian"] == "none_shared"
    assert shown["household"].startswith("same family")
    without = plan_with(background, archived, synced, config=NO_HOUSEHOLDS)
    assert targets(without, "ha-mia") == [("hs-mia", "review")]


def test_child_entered_under_another_given_name_reaches_review(background):
    """An English school name (Kevin) for a child the SIS lists as Yichen shares no letter;
    only the family brings the pair forward, and a given name that differs keeps it in
    review: the family says which household, never which child."""
    archived, synced = family(synced_first="Yichen")
    archived[0] = attrs.evolve(archived[0], first_name="Kevin")
    plan = plan_with(background, archived, synced)
    assert targets(plan, "ha-mia") == [("hs-mia", "review")]
    (reason,) = next(m.reasons for m in plan.merges if m.archived_id == "ha-mia")
    assert "the same child under another name" in reason
    without = plan_with(background, archived, synced, config=NO_HOUSEHOLDS)
    assert targets(without, "ha-mia") == []


def test_two_leftovers_on_a_side_are_not_guessed_at(background):
    """Two unmatched children of one family and class on each side: which is which is not
    the family's to say, and nothing is proposed from it."""
    archived, synced = family(synced_first="Yichen")
    archived[0] = attrs.evolve(archived[0], first_name="Kevin")
    archived.append(attrs.evolve(archived[0], id="ha-ann", first_name="Annie"))
    synced.append(attrs.evolve(synced[0], id="hs-ann", first_name="Xiaoli"))
    plan = plan_with(background, archived, synced)
    assert targets(plan, "ha-mia") == [] and targets(plan, "ha-ann") == []


def test_a_sibling_never_takes_the_childs_place(background):
    """Mia left; her brother Leo is in her family and her grade band, but his given name
    differs: the family brings the pair forward, never merges it."""
    archived, synced = family()
    plan = plan_with(background, archived, synced[1:])
    assert all(decision != "auto" for _, decision in targets(plan, "ha-mia"))
    assert targets(plan, "ha-leo") == [("hs-leo", "auto")]


def test_similar_named_twins_need_what_belongs_to_the_child(background):
    """Braden and Brayden, twins of one gender: the record typed "Braden" may be Brayden's
    with a spelling slip, and a birth date cannot tell twins apart. Only the middle name
    (or an identifier) makes the pair automatic."""
    contacts = [contact("g-t", PHONE, NEW_EMAIL)]
    born = dt.date(2015, 3, 2)
    archived = [kid("tw-a", "Braden", dob=born, gender="M", contacts=contacts)]
    synced = [
        kid("tw-s1", "Braden", dob=born, gender="M", contacts=contacts, synced=True),
        kid("tw-s2", "Brayden", dob=born, gender="M", contacts=contacts, synced=True),
    ]
    plan = plan_with(background, archived, synced)
    assert [d for _, d in targets(plan, "tw-a")] == ["review"]
    reasons = next(m.reasons for m in plan.merges if m.archived_id == "tw-a")
    assert any("twins of one gender" in r for r in reasons)
    archived = [attrs.evolve(archived[0], middle_name="Lee")]
    synced[0] = attrs.evolve(synced[0], middle_name="Lee")
    synced[1] = attrs.evolve(synced[1], middle_name="James")
    assert targets(plan_with(background, archived, synced), "tw-a") == [("tw-s1", "auto")]


def test_twins_of_different_gender_are_told_apart_by_gender(background):
    contacts = [contact("g-t", PHONE, NEW_EMAIL)]
    born = dt.date(2015, 3, 2)
    archived = [kid("tg-a", "Cornelio", dob=born, gender="M", contacts=contacts)]
    synced = [
        kid("tg-s1", "Cornelio", dob=born, gender="M", contacts=contacts, synced=True),
        kid("tg-s2", "Cornelia", dob=born, gender="F", contacts=contacts, synced=True),
    ]
    assert targets(plan_with(background, archived, synced), "tg-a") == [("tg-s1", "auto")]


def test_twins_of_different_gender_need_a_recorded_gender(background):
    """Jordan and Jordyn, a boy and a girl: a record typed "Jordan" with no gender may be
    Jordyn's with a spelling slip (issue 10's 150k district merged such a record into the
    brother). Without a gender, a middle name or an identifier, a person decides."""
    contacts = [contact("g-t", PHONE, NEW_EMAIL)]
    born = dt.date(2015, 3, 2)
    archived = [kid("tj-a", "Jordan", dob=born, gender=None, contacts=contacts)]
    synced = [
        kid("tj-s1", "Jordan", dob=born, gender="M", contacts=contacts, synced=True),
        kid("tj-s2", "Jordyn", dob=born, gender="F", contacts=contacts, synced=True),
    ]
    plan = plan_with(background, archived, synced)
    assert targets(plan, "tj-a") == [("tj-s1", "review")]
    reasons = next(m.reasons for m in plan.merges if m.archived_id == "tj-a")
    assert any("twins of both genders" in r for r in reasons)
    archived = [attrs.evolve(archived[0], gender="M")]
    assert targets(plan_with(background, archived, synced), "tj-a") == [("tj-s1", "auto")]


def _named(prefix: str, first: str, gender: str, n: int) -> tuple[list[Student], list[Student]]:
    """``n`` children of other families named ``first`` (so the district uses the name for
    one gender), each with its own synced record."""
    archived, synced = [], []
    for i in range(n):
        fields = {
            "last": f"Zorvath{prefix}{i}",
            "gender": gender,
            "contacts": [contact(f"g-{prefix}{i}", f"212-555-01{i:02d}")],
        }
        archived.append(child(f"{prefix}a{i}", first, **fields))  # type: ignore[arg-type]
        synced.append(child(f"{prefix}s{i}", first, synced=True, **fields))  # type: ignore[arg-type]
    return archived, synced


def test_a_twin_who_left_with_a_name_of_the_other_gender_is_not_merged(background):
    """Antonia left; her twin brother Antonio stayed, and his class was not on the old
    platform. Antonia's record has no gender; the district names girls Antonia and boys
    Antonio, so one typo between the names is a sister, not a slip (issue 10: "Cornelio
    and Cornelia"). A recorded gender that agrees keeps the typo reading."""
    extra_a, extra_s = [], []
    for prefix, first, gender in (("na", "Antonia", "F"), ("no", "Antonio", "M")):
        more_a, more_s = _named(prefix, first, gender, 3)
        extra_a += more_a
        extra_s += more_s
    contacts = [contact("g-t", PHONE, NEW_EMAIL)]
    born = dt.date(2015, 3, 2)
    archived = [kid("ta-a", "Antonia", dob=born, gender=None, contacts=contacts)]
    synced = [kid("ta-s", "Antonio", dob=born, gender="M", contacts=contacts, synced=True)]
    plan = plan_with(background, archived + extra_a, synced + extra_s)
    assert targets(plan, "ta-a") == [("ta-s", "review")]
    reasons = next(m.reasons for m in plan.merges if m.archived_id == "ta-a")
    assert any("name a girl and a boy" in r for r in reasons)
    typed = [attrs.evolve(archived[0], gender="M")]  # Antonio, mistyped, gender kept
    plan = plan_with(background, typed + extra_a, synced + extra_s)
    assert targets(plan, "ta-a") == [("ta-s", "auto")]


def test_a_birth_date_a_digit_off_does_not_anchor_another_familys_namesake(background):
    """Two Quixby children of one class, born 12 October and 12 December, with other
    parents: the typo-shaped birth date is no anchor when the household says otherwise."""
    archived = [
        kid(
            "nd-a",
            "Arjun",
            dob=dt.date(2016, 12, 12),
            street=None,
            zip=None,
            contacts=[contact("g1", PHONE)],
        )
    ]
    synced = [
        kid(
            "nd-s",
            "Arjun",
            dob=dt.date(2016, 10, 12),
            street=None,
            zip=None,
            contacts=[contact("g2", "646-555-0111", "other.parent@example.com")],
            synced=True,
        )
    ]
    plan = plan_with(background, archived, synced)
    assert [d for _, d in targets(plan, "nd-a")] == ["review"]
    assert evidence(plan, "nd-a")["dob"] == "one_digit"


def test_a_school_office_number_does_not_make_a_family():
    """A value on more records of one side than household_max_children is no household."""
    office = "212-555-0100"
    archived = [
        Student(f"a{i}", f"Kid{i}", f"Family{i}", contacts=(contact(f"ga{i}", office),))
        for i in range(10)
    ]
    synced = [
        Student(f"s{i}", f"Kid{i}", f"Family{i}", contacts=(contact(f"gs{i}", office),))
        for i in range(10)
    ]
    vocab = Vocabularies.new()
    ea = encode_students(archived, vocab)
    eb = encode_students(synced, vocab)
    tight = find_families(ea, eb, len(vocab.contacts), max_children=8, max_family=16)
    assert (tight.archived == -1).all() and (tight.synced == -2).all()
    loose = find_families(ea, eb, len(vocab.contacts), max_children=10, max_family=16)
    assert len(set(loose.archived.tolist())) == 1
    assert loose.same(np.arange(10), np.arange(10)).all()


def test_a_chain_of_shared_contacts_is_not_one_family():
    """Each phone is on two records only, but they chain 12 children into one component."""
    phones = [f"212-555-01{i:02d}" for i in range(13)]

    def chained(side: str, i: int) -> Student:
        contacts = (contact(f"g{side}{i}", phones[i]), contact(f"h{side}{i}", phones[i + 1]))
        return Student(f"{side}{i}", f"Kid{i}", f"Family{i}", contacts=contacts)

    archived = [chained("a", i) for i in range(12)]
    synced = [chained("s", i) for i in range(12)]
    vocab = Vocabularies.new()
    ea = encode_students(archived, vocab)
    eb = encode_students(synced, vocab)
    chain = find_families(ea, eb, len(vocab.contacts), max_children=8, max_family=11)
    assert (chain.archived == -1).all() and (chain.synced == -2).all()
    allowed = find_families(ea, eb, len(vocab.contacts), max_children=8, max_family=12)
    assert len(set(allowed.archived.tolist())) == 1
    assert Settings().household_max_family_size == 16


def test_households_setting_is_validated():
    with pytest.raises(SettingsError, match="household_max_children"):
        Settings(household_max_children=-1)
    with pytest.raises(SettingsError, match="household_max_family_size"):
        Settings(household_max_family_size=-1)


def test_only_child_of_its_class_with_a_loosely_similar_name_and_its_birthday(background):
    """Annabel typed as Annalise: loosely similar, but the only child of her class in the
    family on both sides, born the same day: no sibling (another birthday) or twin (a second
    child of the class) could be her. With a twin sister in the class it stays in review."""
    born = dt.date(2015, 3, 2)
    archived = [kid("kk-a", "Annabel", dob=born, gender="F")]
    synced = [kid("kk-s", "Annalise", dob=born, gender="F", synced=True)]
    plan = plan_with(background, archived, synced)
    assert evidence(plan, "kk-a")["first_name"] == "similar"
    assert targets(plan, "kk-a") == [("kk-s", "auto")]
    twin = kid("kk-t", "Annika", dob=born, gender="F", synced=True)
    plan = plan_with(background, archived, [*synced, twin])
    assert all(decision == "review" for _, decision in targets(plan, "kk-a"))
    assert targets(plan, "kk-a")


def test_a_child_typed_twice_goes_with_its_first_record(background):
    """The second record of Mia, typed again without a birth date and with another email of
    the family, is merged with her first record's synced student; typed under another given
    name it is proposed for review, naming the first record."""
    archived, synced = family()
    second = child("ha-mia2", "Mia", [contact("g-x", None, OLD_EMAIL)])
    plan = plan_with(background, [*archived, second], synced)
    assert targets(plan, "ha-mia2") == [("hs-mia", "auto")]
    renamed = attrs.evolve(second, first_name="Amelia")
    plan = plan_with(background, [*archived, renamed], synced)
    assert targets(plan, "ha-mia2") == [("hs-mia", "review")]
    (reason,) = next(m.reasons for m in plan.merges if m.archived_id == "ha-mia2")
    assert "taken by archived ha-mia" in reason


def test_names_alone_below_the_auto_threshold_are_not_proposed(background):
    """Nothing but names and class (no birth date, guardian, address or identifier), under
    the auto threshold: a reviewer would see no more than the engine did, so the pair is
    not proposed. The same pair with a shared guardian phone is."""
    strict = attrs.evolve(FAST, auto_threshold=0.9999999)
    archived = [child("wn-a", "Zelda", [], last="Quorne")]
    synced = [child("wn-s", "Zelda", [], last="Quorn", synced=True, grade=2)]
    plan = plan_with(background, archived, synced, config=strict)
    assert targets(plan, "wn-a") == [] and "wn-a" in plan.unmatched_archived
    archived = [child("wn-a", "Zelda", [contact("g1", PHONE)], last="Quorne")]
    synced = [child("wn-s", "Zelda", [contact("g2", PHONE)], last="Quorn", synced=True, grade=2)]
    assert targets(plan_with(background, archived, synced, config=strict), "wn-a") == [
        ("wn-s", "review")
    ]


def test_a_rejected_pair_frees_the_record_for_its_next_candidate(background):
    """A reviewer rejected Mia -> hs-mia: planning again with it rejected leaves it out
    before the assignment, so the archived record takes the other Mia of her family."""
    archived, synced = family()
    other = child("hs-mia2", "Mia", [contact("g-new", PHONE, NEW_EMAIL)], synced=True, grade=2)
    first = plan_with(background, archived, [*synced, other])
    assert [s for s, _ in targets(first, "ha-mia")] == ["hs-mia"]
    again = build_plan(
        Roster(background.archived.students + tuple(archived)),
        Roster((*background.synced.students, *synced, other)),
        FAST,
        rejected={("ha-mia", "hs-mia")},
    )
    assert [s for s, _ in targets(again, "ha-mia")] == ["hs-mia2"]


def test_a_second_record_whose_own_pair_was_not_proposed_still_goes_with_its_first(background):
    """Saanvi typed twice: the first record (a surname slip) takes her synced record; the
    assignment places the second on a namesake of another school, a names-only pair under
    the auto threshold that is not proposed. The second record is then free, and goes with
    the first record's synced student for review (it used to go nowhere)."""
    email = "meena.quixby@example.org"
    first = child("s-a1", "Saanvi", [contact("g1", "212-555-0190", email)], last="Quixbby")
    second = child("s-a2", "Saanvi", [contact("g2", None, email)])
    mine = child("s-s1", "Saanvi", [contact("g3", "212-555-0190", email)], synced=True)
    namesake = child("s-s2", "Saanvi", [], synced=True, school_id="X9")
    strict = attrs.evolve(FAST, auto_threshold=0.9999999)
    plan = plan_with(background, [first, second], [mine, namesake], config=strict)
    assert targets(plan, "s-a1") == [("s-s1", "review")]
    assert targets(plan, "s-a2") == [("s-s1", "review")]


def test_a_parent_typed_under_the_childs_surname_carries_a_names_only_pair(background):
    """No birth dates, and the parent's contacts changed: the archive knows her as "Pat
    Quixby" (her child's surname), the SIS as Pat Vance. Her given name is household
    evidence, not evidence against, so a pair of rare, exact names is merged by rarity;
    a guardian of another given name (Dana Vance) leaves it to a person."""

    def pair(synced_guardian: str) -> str:
        archived = [
            child("gn-a", "Zephyrine", [contact("g1", None, "zq@old.example",
                                                 first_name="Pat", last_name="Quixby")])
        ]  # fmt: skip
        synced = [
            child("gn-s", "Zephyrine", [contact("g2", "(646) 555-0199", "pv@new.example",
                                                 first_name=synced_guardian, last_name="Vance")],
                  synced=True)
        ]  # fmt: skip
        [(target, decision)] = targets(plan_with(background, archived, synced), "gn-a")
        assert target == "gn-s"
        return decision

    assert pair("Pat") == "auto"
    assert pair("Dana") == "review"
