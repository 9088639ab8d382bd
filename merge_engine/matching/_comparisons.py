"""Per-field comparisons of candidate pairs as ordered levels.

Each comparison turns a pair of records into one level out of a short,
ordered list (``exact``, ``nickname``, ``close``, ``different`` and so on;
level 0 is always ``missing``). Levels, not raw similarities, go into the
model: a level can be explained to an admin, and its weight is learnt
from the data.

String similarity is computed once per distinct pair of strings, with
rapidfuzz in bulk, and mapped back to the candidate pairs; this is the
only module that imports rapidfuzz.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from attrs import frozen
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from ._arrays import isin, unique_inverse
from ._features import GRADE_MISSING, MISSING, EncodedSide, Ragged, Vocabulary
from ._normalize import nickname_index

__all__ = [
    "COMPARISONS",
    "Comparison",
    "LevelCounts",
    "LevelMatrix",
    "compare_pairs",
    "shared_values",
]

I64 = npt.NDArray[np.int64]
Levels = npt.NDArray[np.int8]


@frozen
class Comparison:
    """One field comparison: its ordered levels and whether it is family evidence.

    Family evidence (surname, guardians, address, school) says "same
    household", which siblings and twins share; the model caps its sum so
    it cannot stand in for evidence about the child.
    """

    name: str
    levels: tuple[str, ...]
    family: bool = False
    description: str = ""


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "first_name",
        (
            "missing",
            "exact",
            "nickname",
            "middle",
            "swapped",
            "close",
            "similar",
            "initial",
            "different",
        ),
        description="given name: exact, nickname or variant, goes by the middle name, "
        "given name and surname swapped, typo, loosely similar (shared start or "
        "Jaro-Winkler >= 0.75), initial only, different",
    ),
    Comparison("middle_name", ("missing", "exact", "initial", "different")),
    Comparison(
        "last_name",
        ("missing", "exact", "compound", "swapped", "close", "initial", "different"),
        family=True,
        description="surname: exact (spacing ignored), shares a word of a compound "
        "or hyphenated surname (a word of four letters or more may carry a typo), swapped "
        "with the given name, typo, only an initial (D. for Downey), different",
    ),
    Comparison(
        "dob",
        ("missing", "exact", "day_month_swap", "one_digit", "different"),
        description="birth date: exact, day and month swapped, one digit off, different",
    ),
    Comparison(
        "grade",
        ("missing", "expected", "adjacent", "different"),
        description="grade progression from archive to sync: as expected "
        "(settings.grade_progression), one off, different",
    ),
    Comparison(
        "school",
        ("missing", "same", "level_change", "different"),
        family=True,
        description="school: same, different at a level change (5->6, 8->9), different",
    ),
    Comparison("gender", ("missing", "same", "different")),
    Comparison(
        "identifier",
        ("missing", "exact", "one_edit", "different"),
        description="sis_id, state_id, student_number or student email: exact (leading "
        "zeros ignored), one typo, different",
    ),
    Comparison(
        "guardian",
        ("missing", "phone_and_email", "phone_or_email", "name_only", "given_name", "none_shared"),
        family=True,
        description="guardians shared between the two records: by phone and email, by "
        "phone or email, by given name and surname only (contacts changed), by given name "
        "only (typed under the child's surname, or known only by an email that starts with "
        "it), none",
    ),
    Comparison(
        "address",
        ("missing", "exact", "close", "zip_only", "different"),
        family=True,
        description="street address and zip: exact street, street with a typo, zip only, different",
    ),
)


@frozen
class LevelMatrix:
    """Levels of every comparison for every candidate pair (pairs x comparisons)."""

    levels: Levels
    comparisons: tuple[Comparison, ...]

    def column(self, name: str) -> Levels:
        for j, comp in enumerate(self.comparisons):
            if comp.name == name:
                return self.levels[:, j]
        raise KeyError(name)


@frozen
class LevelCounts:
    """How many pairs fell in each level of each comparison: all the model's ``u`` needs of
    the random pairs, without a row per pair."""

    counts: tuple[npt.NDArray[np.int64], ...]
    comparisons: tuple[Comparison, ...]

    @classmethod
    def of(cls, matrix: LevelMatrix) -> LevelCounts:
        counts = tuple(
            np.bincount(matrix.levels[:, j], minlength=len(c.levels))
            for j, c in enumerate(matrix.comparisons)
        )
        return cls(counts, matrix.comparisons)


def _level_codes(name: str) -> dict[str, int]:
    """Each level of comparison ``name`` and its code (its place in the level tuple)."""
    levels = next(c.levels for c in COMPARISONS if c.name == name)
    return {level: code for code, level in enumerate(levels)}


_FIRST = _level_codes("first_name")
_MIDDLE = _level_codes("middle_name")
_LAST = _level_codes("last_name")
_DOB = _level_codes("dob")
_GRADE = _level_codes("grade")
_SCHOOL = _level_codes("school")
_GENDER = _level_codes("gender")
_IDENT = _level_codes("identifier")
_GUARDIAN = _level_codes("guardian")
_ADDRESS = _level_codes("address")


class _PairTable:
    """The distinct (left, right) code pairs of some record pairs, scored once each.

    Scorers see each distinct value once (its length, first letters, nickname forms) and
    only the pairs those facts cannot settle string by string: a district has far fewer
    distinct names than candidate pairs, and the random pairs that teach the model are
    nearly all distinct.
    """

    def __init__(
        self, left: npt.NDArray[np.int32], right: npt.NDArray[np.int32], values: Sequence[str]
    ) -> None:
        self.size = len(left)
        self.valid = (left != MISSING) & (right != MISSING)
        # One int64 per pair, as small as the codes allow (``left * size + right``), so
        # that the sort packs it with its position (see ``sorted_order``).
        size = np.int64(max(len(values), 1))
        keys = left[self.valid].astype(np.int64) * size + right[self.valid]
        unique, self.inverse = unique_inverse(keys)
        codes, sides = _dense(np.concatenate([unique // size, unique % size]), len(values))
        self.strings: list[str] = list(map(values.__getitem__, codes.tolist()))
        self.left, self.right = sides[: len(unique)], sides[len(unique) :]
        self._objects: npt.NDArray[np.object_] | None = None

    def __len__(self) -> int:
        return len(self.left)

    def lhs(self) -> list[str]:
        return self._as_objects()[self.left].tolist()  # type: ignore[no-any-return]

    def rhs(self) -> list[str]:
        return self._as_objects()[self.right].tolist()  # type: ignore[no-any-return]

    def per_value(self, fact: Callable[[str], int]) -> npt.NDArray[np.int64]:
        return np.fromiter(map(fact, self.strings), np.int64, count=len(self.strings))

    def where(
        self, pick: npt.NDArray[np.bool_], test: Callable[[str, str], bool]
    ) -> npt.NDArray[np.bool_]:
        """``test`` on the picked pairs' strings, False elsewhere."""
        out = np.zeros(len(self), np.bool_)
        at = np.flatnonzero(pick)
        strings = self.strings
        out[at] = [
            test(strings[i], strings[j])
            for i, j in zip(self.left[at].tolist(), self.right[at].tolist(), strict=True)
        ]
        return out

    def scores(self, score: Callable[[_PairTable], npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        out = np.zeros(self.size, np.float32)
        if len(self):
            out[self.valid] = np.asarray(score(self), np.float32)[self.inverse]
        return out

    def _as_objects(self) -> npt.NDArray[np.object_]:
        if self._objects is None:
            self._objects = np.empty(len(self.strings), object)
            self._objects[:] = self.strings
        return self._objects


def _dense(codes: I64, size: int) -> tuple[I64, I64]:
    """:func:`unique_inverse` of codes below ``size``: by marking them in an array of
    ``size`` flags when that is not much longer than ``codes`` (no sort at all)."""
    if size > 16 * len(codes):
        return unique_inverse(codes)
    seen = np.zeros(size, np.bool_)
    seen[codes] = True
    rank = np.cumsum(seen) - 1
    return np.flatnonzero(seen), rank[codes]


def _unique_pair_scores(
    left: npt.NDArray[np.int32],
    right: npt.NDArray[np.int32],
    values: Sequence[str],
    score: Callable[[_PairTable], npt.NDArray[Any]],
) -> npt.NDArray[np.float32]:
    """Score each distinct (left, right) code pair once; missing codes score 0."""
    return _PairTable(left, right, values).scores(score)


def _jaro_winkler(pairs: _PairTable) -> npt.NDArray[np.float32]:
    return np.asarray(
        process.cpdist(
            pairs.lhs(), pairs.rhs(), scorer=JaroWinkler.normalized_similarity, workers=-1
        ),
        np.float32,
    )


def _one_edit(pairs: _PairTable) -> npt.NDArray[np.bool_]:
    """At most one edit apart (Damerau-Levenshtein: insert, delete, substitute or swap two
    neighbours). For distances up to one, optimal string alignment (OSA) equals the
    unrestricted Damerau-Levenshtein distance: they differ only where a substring is edited
    twice. OSA is bit-parallel and, with the cutoff, stops at two: about three times faster."""
    distance = process.cpdist(
        pairs.lhs(), pairs.rhs(), scorer=OSA.distance, score_cutoff=1, workers=-1
    )
    found: npt.NDArray[np.bool_] = np.asarray(distance) <= 1
    return found


def _nickname(pairs: _PairTable) -> npt.NDArray[np.bool_]:
    """Equal, or one is a listed canonical form of the other (see ``NicknameIndex``)."""
    index = nickname_index()
    position = {name: i for i, name in enumerate(pairs.strings)}
    links = np.fromiter(
        (
            (i << 32) | position[form]
            for i, name in enumerate(pairs.strings)
            for form in index.canonicals(name)
            if form != name and form in position
        ),
        np.int64,
    )
    forward = (pairs.left << 32) | pairs.right
    backward = (pairs.right << 32) | pairs.left
    found: npt.NDArray[np.bool_] = (
        (pairs.left == pairs.right) | isin(forward, links) | isin(backward, links)
    )
    return found


def _is_initial(pairs: _PairTable) -> npt.NDArray[np.bool_]:
    length = pairs.per_value(len)
    letter = pairs.per_value(lambda s: ord(s[0]))
    one = (length[pairs.left] == 1) | (length[pairs.right] == 1)
    found: npt.NDArray[np.bool_] = one & (letter[pairs.left] == letter[pairs.right])
    return found


def _shared_start(pairs: _PairTable) -> npt.NDArray[np.bool_]:
    """One name starts with the other (``kay`` and ``kayla``), three letters at least."""
    length = pairs.per_value(len)
    starts: dict[str, int] = {}
    start = pairs.per_value(lambda s: starts.setdefault(s[:3], len(starts)))
    maybe = (np.minimum(length[pairs.left], length[pairs.right]) >= 3) & (
        start[pairs.left] == start[pairs.right]
    )
    return pairs.where(maybe, lambda a, b: a.startswith(b) or b.startswith(a))


SIMILAR_THRESHOLD = 0.75
"""Jaro-Winkler similarity from which differing given names count as loosely similar."""


def _close(
    jw: npt.NDArray[np.float32], one_edit: npt.NDArray[np.bool_], threshold: float
) -> npt.NDArray[np.bool_]:
    return (jw >= threshold) | one_edit


def _names(
    a: EncodedSide,
    b: EncodedSide,
    ia: I64,
    ib: I64,
    vocab: Vocabulary,
    threshold: float,
    similar_threshold: float = SIMILAR_THRESHOLD,
) -> tuple[Levels, Levels, Levels]:
    names = vocab.values
    first_a, first_b = a.first[ia], b.first[ib]
    tok_a, tok_b = a.first_token[ia], b.first_token[ib]
    mid_a, mid_b = a.middle[ia], b.middle[ib]

    first = np.full(len(ia), _FIRST["different"], np.int8)
    present = (first_a != MISSING) & (first_b != MISSING)
    first[~present] = _FIRST["missing"]
    undecided = present & (first_a != first_b)
    nick = (
        _unique_pair_scores(
            np.where(undecided, tok_a, MISSING).astype(np.int32), tok_b, names, _nickname
        )
        > 0
    )
    goes_by_middle = undecided & (
        ((mid_b != MISSING) & (tok_a == mid_b)) | ((mid_a != MISSING) & (tok_b == mid_a))
    )
    joined = undecided & (tok_a == tok_b)
    # A first-word match is a variant only when one name is a single word:
    # "Mary" for "Mary Ann" is, but "Mary Ann" and "Mary Beth" are twins' names.
    one_word = (first_a == tok_a) | (first_b == tok_b)
    variant = undecided & (nick | joined) & one_word
    by_middle = undecided & goes_by_middle & ~variant
    rest = undecided & ~variant & ~by_middle
    masked = np.where(rest, first_a, MISSING).astype(np.int32)
    table = _PairTable(masked, first_b, names)
    jw = table.scores(_jaro_winkler)
    one_edit = table.scores(_one_edit) > 0
    initial = table.scores(_is_initial) > 0
    prefix = table.scores(_shared_start) > 0
    first[rest & ~initial & ((jw >= similar_threshold) | prefix)] = _FIRST["similar"]
    first[rest & initial] = _FIRST["initial"]
    first[rest & ~initial & _close(jw, one_edit, threshold)] = _FIRST["close"]
    swapped = rest & (first_a == b.last[ib]) & (a.last[ia] == first_b)
    first[swapped] = _FIRST["swapped"]
    first[by_middle] = _FIRST["middle"]
    first[variant] = _FIRST["nickname"]
    first[present & (first_a == first_b)] = _FIRST["exact"]

    middle = np.full(len(ia), _MIDDLE["different"], np.int8)
    m_present = (mid_a != MISSING) & (mid_b != MISSING)
    middle[~m_present] = _MIDDLE["missing"]
    m_init = (
        _unique_pair_scores(
            np.where(m_present, mid_a, MISSING).astype(np.int32), mid_b, names, _is_initial
        )
        > 0
    )
    middle[m_present & m_init] = _MIDDLE["initial"]
    middle[m_present & (mid_a == mid_b)] = _MIDDLE["exact"]

    key_a, key_b = a.last_key[ia], b.last_key[ib]
    last = np.full(len(ia), _LAST["different"], np.int8)
    l_present = (key_a != MISSING) & (key_b != MISSING)
    last[~l_present] = _LAST["missing"]
    l_rest = l_present & (key_a != key_b)
    shared = _shared_surname_word(a.last_tokens[ia], b.last_tokens[ib], l_rest, names, threshold)
    masked_last = np.where(l_rest, key_a, MISSING).astype(np.int32)
    last_table = _PairTable(masked_last, key_b, names)
    l_jw = last_table.scores(_jaro_winkler)
    l_one_edit = last_table.scores(_one_edit) > 0
    last[l_rest & (last_table.scores(_is_initial) > 0)] = _LAST["initial"]
    last[l_rest & _close(l_jw, l_one_edit, threshold)] = _LAST["close"]
    last[l_rest & swapped] = _LAST["swapped"]
    last[l_rest & shared] = _LAST["compound"]
    last[l_present & (key_a == key_b)] = _LAST["exact"]
    return first, middle, last


def _shared_surname_word(
    toks_a: npt.NDArray[np.int32],
    toks_b: npt.NDArray[np.int32],
    undecided: npt.NDArray[np.bool_],
    names: Sequence[str],
    threshold: float,
) -> npt.NDArray[np.bool_]:
    """Whether the surnames share a word, or, when one of them has several words, a word of
    four letters or more one typo apart: a compound surname (Elmore-Guzman) is often typed
    as one of its words, with a slip (Elmoer)."""
    shared = np.zeros(len(toks_a), np.bool_)
    for i in range(toks_a.shape[1]):
        for j in range(toks_b.shape[1]):
            ta, tb = toks_a[:, i], toks_b[:, j]
            shared |= (ta == tb) & (ta != MISSING)
    compound = (toks_a[:, 1] != MISSING) | (toks_b[:, 1] != MISSING)
    for i in range(toks_a.shape[1]):
        for j in range(toks_b.shape[1]):
            todo = undecided & compound & ~shared & (toks_a[:, i] != toks_b[:, j])
            if not todo.any():
                continue
            masked = np.where(todo, toks_a[:, i], MISSING).astype(np.int32)
            tb = toks_b[:, j]
            table = _PairTable(masked, tb, names)
            jw = table.scores(_jaro_winkler)
            one_edit = table.scores(_one_edit) > 0
            long = table.scores(_long_words) > 0
            shared |= todo & long & _close(jw, one_edit, threshold)
    return shared


def _long_words(pairs: _PairTable) -> npt.NDArray[np.bool_]:
    length = pairs.per_value(len)
    found: npt.NDArray[np.bool_] = np.minimum(length[pairs.left], length[pairs.right]) >= 4
    return found


def _dob(a: EncodedSide, b: EncodedSide, ia: I64, ib: I64) -> Levels:
    # YYYYMMDD fits in int32, whose divisions by a constant are several times faster.
    da, db = a.dob[ia].astype(np.int32), b.dob[ib].astype(np.int32)
    out = np.full(len(ia), _DOB["different"], np.int8)
    present = (da != MISSING) & (db != MISSING)
    out[~present] = _DOB["missing"]
    digits_off = np.zeros(len(ia), np.int8)
    x, y = da, db
    for _ in range(8):
        qx, qy = x // 10, y // 10
        digits_off += (x - qx * 10) != (y - qy * 10)
        x, y = qx, qy
    out[present & (digits_off == 1)] = _DOB["one_digit"]
    month_a, day_a = (da // 100) % 100, da % 100
    month_b, day_b = (db // 100) % 100, db % 100
    swap = (da // 10000 == db // 10000) & (month_a == day_b) & (day_a == month_b)
    out[present & swap & (month_a != day_a)] = _DOB["day_month_swap"]
    out[present & (da == db)] = _DOB["exact"]
    return out


def _grade(a: EncodedSide, b: EncodedSide, ia: I64, ib: I64, progression: int) -> Levels:
    ga, gb = a.grade[ia].astype(np.int16), b.grade[ib].astype(np.int16)
    out = np.full(len(ia), _GRADE["different"], np.int8)
    present = (ga != GRADE_MISSING) & (gb != GRADE_MISSING)
    out[~present] = _GRADE["missing"]
    delta = gb - ga - progression
    out[present & (np.abs(delta) == 1)] = _GRADE["adjacent"]
    out[present & (delta == 0)] = _GRADE["expected"]
    return out


LEVEL_CHANGE_GRADES = (6, 9)
"""Grades a child enters a new school in (middle and high school), by default."""


def _school(
    a: EncodedSide, b: EncodedSide, ia: I64, ib: I64, level_changes: Sequence[int]
) -> Levels:
    sa, sb = a.school[ia], b.school[ib]
    out = np.full(len(ia), _SCHOOL["different"], np.int8)
    present = (sa != MISSING) & (sb != MISSING)
    out[~present] = _SCHOOL["missing"]
    gb = b.grade[ib]
    ga = a.grade[ia]
    change = np.isin(gb, list(level_changes)) & (ga < gb) & (ga != GRADE_MISSING)
    out[present & (sa != sb) & change] = _SCHOOL["level_change"]
    out[present & (sa == sb)] = _SCHOOL["same"]
    return out


def given_name_levels(
    a: EncodedSide, b: EncodedSide, ia: I64, ib: I64, names: Vocabulary, threshold: float
) -> tuple[Levels, Levels]:
    """The ``first_name`` and ``gender`` levels alone, for callers that need nothing else
    (telling twins apart inside a family)."""
    return _names(a, b, ia, ib, names, threshold)[0], _gender(a, b, ia, ib)


def _gender(a: EncodedSide, b: EncodedSide, ia: I64, ib: I64) -> Levels:
    ga, gb = a.gender[ia], b.gender[ib]
    out = np.where(ga == gb, _GENDER["same"], _GENDER["different"]).astype(np.int8)
    out[(ga == 0) | (gb == 0)] = _GENDER["missing"]
    return out


def _identifier(
    a: EncodedSide, b: EncodedSide, ia: I64, ib: I64, values: Sequence[str] | None
) -> Levels:
    kinds_a = [a.sis_id, a.state_id, a.student_number, a.email]
    kinds_b = [b.sis_id, b.state_id, b.student_number, b.email]
    exact = np.zeros(len(ia), np.bool_)
    conflict = np.zeros(len(ia), np.bool_)
    typo = np.zeros(len(ia), np.bool_)
    values_a = [ka[ia] for ka in kinds_a]
    values_b = [kb[ib] for kb in kinds_b]
    for va in values_a:
        known = va != MISSING
        for vb in values_b:
            exact |= (va == vb) & known
    # Student emails change (personal to district address): they can confirm, never contradict.
    for va, vb in zip(values_a[:3], values_b[:3], strict=True):
        differ = (va != MISSING) & (vb != MISSING) & (va != vb)
        conflict |= differ
        if values is not None and differ.any():
            masked = np.where(differ, va, MISSING).astype(np.int32)
            typo |= differ & (_unique_pair_scores(masked, vb, values, _one_edit) > 0)
    out = np.zeros(len(ia), np.int8)
    out[conflict] = _IDENT["different"]
    out[conflict & typo] = _IDENT["one_edit"]
    out[exact] = _IDENT["exact"]
    return out


#: Values per record compared slot by slot in :func:`shared_values`; pairs with a record
#: holding more (a child with many guardians) go through a sorted search instead.
_SHARED_SLOTS = 4


def shared_values(ra: Ragged, rb: Ragged, ia: I64, ib: I64) -> npt.NDArray[np.bool_]:
    """Whether the two records of each pair share any value of a multi-valued field.

    A record holds a few values (a guardian or two, a phone each): each pair compares
    its records' first values slot by slot, which reads only the pairs' own entries. A
    search of every pair's values among all of ``rb``'s (sorted) costs a sort of the
    whole side and a cache miss a probe, per chunk of pairs.
    """
    out = np.zeros(len(ia), np.bool_)
    if not len(ia) or not len(ra.values) or not len(rb.values):
        return out
    start_a, start_b = ra.indptr[ia], rb.indptr[ib]
    count_a, count_b = ra.indptr[ia + 1] - start_a, rb.indptr[ib + 1] - start_b

    def slots(
        values: npt.NDArray[np.integer], start: I64, count: I64
    ) -> list[npt.NDArray[np.integer]]:
        width = min(int(count.max()), _SHARED_SLOTS)
        last = len(values) - 1
        return [
            np.where(count > k, values[np.minimum(start + k, last)], MISSING) for k in range(width)
        ]

    right = slots(rb.values, start_b, count_b)
    for left in slots(ra.values, start_a, count_a):
        known = left != MISSING
        for value in right:
            out |= (left == value) & known
    wide = np.flatnonzero(((count_a > _SHARED_SLOTS) | (count_b > _SHARED_SLOTS)) & ~out)
    if len(wide):
        out[wide] = _shared_by_search(ra, rb, ia[wide], ib[wide])
    return out


def _shared_by_search(ra: Ragged, rb: Ragged, ia: I64, ib: I64) -> npt.NDArray[np.bool_]:
    """:func:`shared_values` for any number of values a record: each pair's values looked
    up among all of ``rb``'s, keyed by record."""
    counts = np.diff(ra.indptr)[ia]
    pair = np.repeat(np.arange(len(ia), dtype=np.int64), counts)
    starts = np.repeat(ra.indptr[ia], counts)
    offsets = np.arange(len(pair), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    values = ra.values[starts + offsets].astype(np.int64)
    probes = (ib[pair] << 32) | values
    known = (rb.owners() << 32) | rb.values.astype(np.int64)
    hit = isin(probes, known)
    out = np.zeros(len(ia), np.bool_)
    out[pair[hit]] = True
    return out


def _guardian(a: EncodedSide, b: EncodedSide, ia: I64, ib: I64) -> Levels:
    phone = shared_values(a.guardian_phones, b.guardian_phones, ia, ib)
    email = shared_values(a.guardian_emails, b.guardian_emails, ia, ib)
    out = np.full(len(ia), _GUARDIAN["none_shared"], np.int8)
    out[~(a.has_contacts[ia] & b.has_contacts[ib])] = _GUARDIAN["missing"]
    rest = np.flatnonzero(~(phone | email))  # names matter only where no contact is shared
    out[rest[shared_values(a.guardian_given, b.guardian_given, ia[rest], ib[rest])]] = _GUARDIAN[
        "given_name"
    ]
    out[rest[shared_values(a.guardian_names, b.guardian_names, ia[rest], ib[rest])]] = _GUARDIAN[
        "name_only"
    ]
    out[phone | email] = _GUARDIAN["phone_or_email"]
    out[phone & email] = _GUARDIAN["phone_and_email"]
    return out


def _address(
    a: EncodedSide, b: EncodedSide, ia: I64, ib: I64, values: Sequence[str] | None, threshold: float
) -> Levels:
    sa, sb = a.street[ia], b.street[ib]
    za, zb = a.zip[ia], b.zip[ib]
    out = np.full(len(ia), _ADDRESS["different"], np.int8)
    out[((sa == MISSING) | (sb == MISSING)) & ((za == MISSING) | (zb == MISSING))] = _ADDRESS[
        "missing"
    ]
    out[(za != MISSING) & (za == zb)] = _ADDRESS["zip_only"]
    zip_ok = (za == zb) | (za == MISSING) | (zb == MISSING)
    both = (sa != MISSING) & (sb != MISSING) & (sa != sb) & zip_ok
    if values is not None and both.any():
        masked = np.where(both, sa, MISSING).astype(np.int32)
        out[both & (_unique_pair_scores(masked, sb, values, _jaro_winkler) >= threshold)] = (
            _ADDRESS["close"]
        )
    out[(sa != MISSING) & (sa == sb) & zip_ok] = _ADDRESS["exact"]
    return out


def compare_pairs(
    a: EncodedSide,
    b: EncodedSide,
    ia: I64,
    ib: I64,
    names: Vocabulary,
    *,
    grade_progression: int = 1,
    level_change_grades: Sequence[int] = LEVEL_CHANGE_GRADES,
    similar_threshold: float = SIMILAR_THRESHOLD,
    close_threshold: float = 0.92,
    identifiers: Vocabulary | None = None,
    places: Vocabulary | None = None,
) -> LevelMatrix:
    """Levels of every comparison in :data:`COMPARISONS` for the pairs ``(ia[k], ib[k])``.

    Without the ``identifiers`` and ``places`` vocabularies, identifier and
    street typos are not detected (they count as different).
    """
    first, middle, last = _names(a, b, ia, ib, names, close_threshold, similar_threshold)
    columns = {
        "first_name": first,
        "middle_name": middle,
        "last_name": last,
        "dob": _dob(a, b, ia, ib),
        "grade": _grade(a, b, ia, ib, grade_progression),
        "school": _school(a, b, ia, ib, level_change_grades),
        "gender": _gender(a, b, ia, ib),
        "identifier": _identifier(a, b, ia, ib, identifiers.values if identifiers else None),
        "guardian": _guardian(a, b, ia, ib),
        "address": _address(a, b, ia, ib, places.values if places else None, close_threshold),
    }
    matrix = (
        np.stack([columns[c.name] for c in COMPARISONS], axis=1)
        if len(ia)
        else np.zeros((0, len(COMPARISONS)), np.int8)
    )
    return LevelMatrix(matrix.astype(np.int8), COMPARISONS)
