"""The shortcuts guardian planning takes on columns give what the plain ways give.

Columns of both sides coded together, full names as integer codes, merges made
without converters, and the students a pair met on read in merge order: each
against the plain computation it replaces, on random values.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from merge_engine._evidence import FieldEvidence, probability
from merge_engine._plan_accounts import trusted_merge
from merge_engine.accounts._guardian_columns import _Coded, _Columns
from merge_engine.accounts._guardian_levels import _full_name_held
from merge_engine.accounts._guardian_pairs import _unify
from merge_engine.accounts._guardians import _met_students
from merge_engine.plan import GuardianMerge

VALUES = st.lists(st.sampled_from(["", "a", "b", "c", "d", "e"]), max_size=12)


@given(VALUES, VALUES)
def test_joint_codes_are_each_sides_own(old: list[str], new: list[str]) -> None:
    """Coded together, each side holds its own values and codes and looks up only its own
    values, and each new value is placed at its own value, as a look-up places it."""
    o, n = _Coded.joint(old, new)
    for side, column in ((o, old), (n, new)):
        alone = _Coded(column)
        assert sorted(side.values) == sorted(alone.values)
        assert [side.values[c] for c in side.codes.tolist()] == column
        for value in ["", "a", "b", "c", "d", "e", "z"]:
            code = side.code_of(value)
            assert (code >= 0) == (value in column)
            if code >= 0:
                assert side.values[code] == value
        assert side.codes_of(["z", *column]).tolist() == [-1, *side.codes.tolist()]
    o_alone, n_alone = _Coded(old), _Coded(new)
    joint = [(o.values + n.values)[c] for c in _unify(o, n).tolist()]
    looked_up = [(o_alone.values + n_alone.values)[c] for c in _unify(o_alone, n_alone).tolist()]
    assert joint == n.values
    assert looked_up == n_alone.values


NAMES = st.lists(
    st.tuples(st.sampled_from(["", "ana", "bo"]), st.sampled_from(["", "ruiz", "li"])),
    min_size=1,
    max_size=8,
)


def _columns(names: list[tuple[str, str]]) -> _Columns:
    ids = [f"g{i:02d}" for i in range(len(names))]
    fields = ([f for f, _ in names], [last for _, last in names], [""] * len(names),
              [""] * len(names), [""] * len(names))  # fmt: skip
    empty = np.zeros(0, np.int64)
    return _Columns(ids, fields, [()] * len(names), ({}, [], empty, empty, None))


@given(NAMES, NAMES)
def test_full_names_as_codes(
    old_names: list[tuple[str, str]], new_names: list[tuple[str, str]]
) -> None:
    """Accounts share a full-name code when both names agree; accounts missing either share
    the empty code; an old account holds a new one's full name when one has the same."""
    old, new = _columns(old_names), _columns(new_names)
    old.coded_with(new, ("first", "last"))
    for side, names in ((old, old_names), (new, new_names)):
        codes, empty = side.full_names()
        text = [f"{f}\x1f{last}" if f and last else "" for f, last in names]
        for i in range(len(names)):
            for j in range(len(names)):
                assert (codes[i] == codes[j]) == (text[i] == text[j])
            assert (codes[i] == empty) == (text[i] == "")
        assert (empty >= 0) == ("" in text)
    held = _full_name_held(old, new, np.arange(len(new_names), dtype=np.int64))
    old_text = {f"{f}\x1f{last}" if f and last else "" for f, last in old_names}
    new_text = [f"{f}\x1f{last}" if f and last else "" for f, last in new_names]
    assert held.tolist() == [name in old_text for name in new_text]


@given(
    st.sampled_from(["g1", "g2"]),
    st.floats(0, 1),
    st.sampled_from(["auto", "review"]),
    st.lists(st.sampled_from(["x", "y"]), max_size=2),
    st.lists(st.tuples(st.sampled_from(["a1", "a2"]), st.sampled_from(["s1", "s2"])), max_size=3),
)
def test_a_trusted_merge_is_the_merge(
    gid: str, confidence: float, decision: str, reasons: list[str], students: list[tuple[str, str]]
) -> None:
    """Values already as a merge keeps them make the same merge, with no converter run."""
    evidence = (FieldEvidence("email", "exact", 3.25),)
    made = GuardianMerge(gid, "n1", confidence, decision, evidence, reasons, students)  # type: ignore[arg-type]
    trusted = trusted_merge(
        gid,
        "n1",
        probability(confidence),
        decision,
        evidence,
        tuple(reasons),
        tuple(students),  # type: ignore[arg-type]
    )
    assert trusted == made
    assert trusted.to_dict() == made.to_dict()
    assert type(trusted.confidence) is float and type(trusted.students) is tuple


@given(st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=4), min_size=1, max_size=8))
def test_students_met_read_in_merge_order(groups: list[list[int]]) -> None:
    """With merges sorted by archived id (each once), the merges each pair met on read in
    merge order are the sorted distinct merges the general way finds."""
    archived = [f"a{k}" for k in range(6)]
    synced = [f"s{5 - k}" for k in range(6)]
    which = np.array([m for group in groups for m in sorted(group)], np.int64)
    sizes = np.array([len(group) for group in groups], np.int64)
    starts = np.cumsum(sizes) - sizes
    ends = starts + sizes
    at = np.arange(len(groups), dtype=np.int64)[::-1].copy()
    kwargs = {"starts": starts, "ends": ends, "which": which, "merged": (archived, synced)}
    fast = _met_students(at, in_order=True, **kwargs)  # type: ignore[arg-type]
    plain = _met_students(at, in_order=False, **kwargs)  # type: ignore[arg-type]
    expected = [tuple(sorted({(archived[m], synced[m]) for m in groups[p]})) for p in at.tolist()]
    assert fast == plain == expected
