"""Regression tests for bugs found by review: each failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FAST
from planner_support import kid, plan_with, targets

from merge_engine import MergePlan, Settings, SettingsError, build_plan
from merge_engine.exceptions import InputError
from merge_engine.matching._assignment import NONE, assign
from merge_engine.matching._comparisons import COMPARISONS, LevelMatrix
from merge_engine.matching._fellegi_sunter import estimate_model
from merge_engine.readers import read_roster
from merge_engine.testing.synthetic import generate_district


# 1 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stays", "left"), [("Maria Jose", "Maria Fernanda"), ("Mary Ann", "Mary Beth")]
)
def test_compound_named_twin_who_left_is_not_merged_into_the_other(background, stays, left):
    """Twins María José and María Fernanda: one synced, the other is not merged into it."""
    plan = plan_with(
        background,
        [kid("xa1", stays), kid("xa2", left)],
        [kid("xs1", stays, synced=True)],
    )
    assert targets(plan, "xa1") == [("xs1", "auto")]
    assert all(d != "auto" for _, d in targets(plan, "xa2"))


def test_compound_named_twins_each_get_their_own(background):
    plan = plan_with(
        background,
        [kid("xa1", "Maria Jose"), kid("xa2", "Maria Fernanda")],
        [kid("xs1", "Maria Jose", synced=True), kid("xs2", "Maria Fernanda", synced=True)],
    )
    assert [s for s, _ in targets(plan, "xa1")] == ["xs1"]
    assert [s for s, _ in targets(plan, "xa2")] == ["xs2"]


# 2 -----------------------------------------------------------------------------------
def test_em_does_not_depend_on_candidate_order():
    names = [c.name for c in COMPARISONS]

    def row(**kw):
        r = np.zeros(len(COMPARISONS), np.int8)
        for k, v in kw.items():
            j = names.index(k)
            r[j] = COMPARISONS[j].levels.index(v)
        return r

    a = row(first_name="different", last_name="exact", dob="exact")
    b = row(first_name="missing", middle_name="exact", last_name="exact", dob="exact")
    c = row(first_name="exact", last_name="exact", dob="exact")
    rand = LevelMatrix(
        np.stack(
            [row(first_name="different", last_name="different", dob="different")] * 500
            + [row(first_name="exact", last_name="different", dob="different")] * 5
        ),
        COMPARISONS,
    )

    def fit(rows):
        return estimate_model(LevelMatrix(np.stack(rows), COMPARISONS), rand, expected_matches=60)

    assert fit([a] * 20 + [b] * 20 + [c] * 60).m == fit([b] * 20 + [a] * 20 + [c] * 60).m


# 3 -----------------------------------------------------------------------------------
def test_best_pair_without_edges():
    empty = np.empty(0, np.int64)
    result = assign(empty, empty, np.empty(0), n_groups=1, n_synced=1, floor_bits=0.0)
    assert result.best_pair(np.array([0]), np.array([0]), 1).tolist() == [NONE]


# 4 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        {"grade_progression": "1"},
        {"random_pairs": 1000.5},
        {"family_cap_bits": "x"},
        {"family_cap_bits": -3},
        {"seed": "abc"},
        {"household_rules": "no"},
        {"max_block_pairs": 2.5},
    ],
)
def test_settings_of_the_wrong_type_are_refused(data):
    with pytest.raises(SettingsError):
        Settings.from_mapping(data)


# 5 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["auto", "native"])
def test_headerless_csv_error_does_not_echo_a_student(tmp_path, fmt):
    (tmp_path / "students.csv").write_text("c1,Zyxwvut,Qorblax,2013-07-19\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_roster(tmp_path, format=fmt)
    for secret in ("zyxwvut", "qorblax", "2013-07-19"):
        assert secret not in str(info.value).lower()


# 6 -----------------------------------------------------------------------------------
def test_records_sharing_a_synced_id_list_each_other():
    d = generate_district(1000, seed=5)
    plan = build_plan(d.archived, d.synced, FAST)
    by = {}
    for m in plan.merges:
        by.setdefault(m.synced_id, []).append(m)
    for merges in by.values():
        ids = {m.archived_id for m in merges}
        for m in merges:
            assert ids - {m.archived_id} <= set(m.duplicates)


# 7 -----------------------------------------------------------------------------------
def test_plan_write_read_round_trip_equals(tmp_path):
    d = generate_district(150, seed=4)
    plan = build_plan(d.archived, d.synced, FAST)
    plan.write(tmp_path / "p.json")
    assert plan == MergePlan.read(tmp_path / "p.json")
