"""The decision rules: which assigned pairs are ``auto`` and which go to review, and why.

Each rule is a set of comparison levels (named, never numbered); the reasons are the
reviewer's words. Kept apart from the planner so the rules read as one list."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from .._evidence import BITS_DIGITS, PROBABILITY_DIGITS
from ..matching._arrays import unique
from ..matching._assignment import NONE, Assignment
from ..matching._comparisons import COMPARISONS, Comparison, Levels
from ..matching._features import GRADE_MISSING, MISSING, EncodedSide
from ..matching._households import (
    Families,
)
from ..matching._scoring import ScoredPairs, given_name_counts, initial_sounds, name_genders
from ..model import Student
from ..plan import FieldEvidence
from ..settings import Settings
from ._decided import Decided
from ._pairs import I64, _Hashes

Mask = npt.NDArray[np.bool_]


def _level_index(name: str, *levels: str) -> tuple[int, list[int]]:
    j = next(i for i, c in enumerate(COMPARISONS) if c.name == name)
    return j, [COMPARISONS[j].levels.index(x) for x in levels]


_SURNAMES_DIFFER = "surnames differ"
_LOOSELY_SIMILAR = "given names are only loosely similar"
_GATES = (
    (_level_index("first_name", "missing"), "a given name is missing"),
    (_level_index("last_name", "missing"), "a surname is missing"),
    (_level_index("first_name", "different"), "given names differ"),
    (_level_index("first_name", "initial"), "given name is only an initial"),
    (_level_index("first_name", "similar"), _LOOSELY_SIMILAR),
    (_level_index("dob", "different"), "birth dates differ"),
    (_level_index("last_name", "different"), _SURNAMES_DIFFER),
    (_level_index("identifier", "different"), "identifiers disagree"),
)


#: A child whose surname changed (a parent remarried, a second surname added or dropped,
#: a patronymic family name) keeps its given name, class and guardians: a differing
#: surname is no gate when the pair's own guardian contacts are shared, the given name is
#: exact, the grade is the expected one and nothing of the child's own disagrees.
_RENAMED_IN_HOUSEHOLD = (
    _level_index("guardian", "phone_and_email", "phone_or_email"),
    _level_index("first_name", "exact"),
    _level_index("grade", "expected"),
    _level_index("dob", "missing", "exact"),
    _level_index("gender", "missing", "same"),
    _level_index("middle_name", "missing", "exact", "initial"),
    _level_index("identifier", "missing", "exact"),
)
#: A given name only loosely similar (Kay and Kayla, a spelling of one's own) is no gate for
#: the only child of its class in one family on both sides, born the same day: siblings are
#: born on other days, and a twin would be a second child of the class.
_ONLY_CHILD_OF_CLASS = (
    _level_index("dob", "exact"),
    _level_index("grade", "expected"),
    _level_index("gender", "missing", "same"),
    _level_index("last_name", "exact", "compound", "close"),
)

_ANCHORS = (
    _level_index("dob", "exact"),
    _level_index("identifier", "exact", "one_edit"),
    _level_index("guardian", "phone_and_email", "phone_or_email"),
    _level_index("address", "exact"),
)
#: A birth date one typo off anchors a pair only when the household does not say "another
#: family": dates a digit apart are common among classmates (Arjun Chopra born 12 October
#: and another Arjun Chopra of the same class born 12 December, with other parents).
_TYPO_DATE_ANCHOR = (
    _level_index("dob", "day_month_swap", "one_digit"),
    # Not a guardian's given name alone: mothers named Kavita or Huong are many in one
    # district, and with a date a digit off that made two false merges at 150,000.
    _level_index("guardian", "missing", "phone_and_email", "phone_or_email", "name_only"),
    _level_index("address", "missing", "exact", "close", "zip_only"),
)
_GRADE_CONFLICT = (
    _level_index("grade", "different"),
    _level_index("dob", "exact", "day_month_swap", "one_digit"),
)
#: A guardian known by name only (the contacts changed) anchors a pair only inside the
#: same class: parents' names repeat across a district (Nicole Wilson), classes less so.
_GUARDIAN_NAME_ANCHOR = (
    _level_index("guardian", "name_only"),
    _level_index("grade", "expected"),
    _level_index("school", "same"),
    _level_index("last_name", "exact"),
)


def _any_level(lv: Levels, checks: Sequence[tuple[int, list[int]]]) -> Mask:
    """Pairs whose level of some comparison in ``checks`` is one of that check's levels."""
    hit = np.zeros(len(lv), np.bool_)
    for j, levels in checks:
        hit |= np.isin(lv[:, j], levels)
    return hit


def _every_level(lv: Levels, checks: Sequence[tuple[int, list[int]]]) -> Mask:
    """Pairs whose level of every comparison in ``checks`` is one of that check's levels."""
    hit = np.ones(len(lv), np.bool_)
    for j, levels in checks:
        hit &= np.isin(lv[:, j], levels)
    return hit


def _child_check(
    name: str, good: tuple[str, ...], bad: tuple[str, ...]
) -> tuple[int, list[int], list[int]]:
    j, good_codes = _level_index(name, *good)
    return j, good_codes, _level_index(name, *bad)[1]


_TWIN_CHECKS = (
    _level_index("first_name", "close"),
    _child_check("gender", ("same",), ("different",)),
    _child_check("middle_name", ("exact", "initial"), ("different",)),
    _child_check("identifier", ("exact", "one_edit"), ("different",)),
)
#: Records of a district that make a given name one it gives its children (not a slip):
#: a misspelling rarely lands on another name of the district, rhyming twins' names do.
RHYME_MIN_RECORDS = 5
#: The household says "another family": no guardian contact or name shared, and another
#: street address. A birth date shared with a classmate of a similar name is chance.
_OTHER_HOUSEHOLD = (
    _level_index("guardian", "none_shared"),
    _level_index("address", "different"),
)
#: What belongs to one child alone, to tell twins with similar given names apart (twins
#: share a birth date, and these twins share a gender).
_OWN_EVIDENCE = (
    _level_index("middle_name", "exact", "initial"),
    _level_index("identifier", "exact", "one_edit"),
)
#: What a names-only pair needs besides a rare name: both names exact, the class (grade,
#: school) agreeing as far as it is known, and no household evidence against it (other
#: guardians by contact and name, another street).
_RARE_NAME_PAIR = (
    _level_index("first_name", "exact"),
    _level_index("last_name", "exact"),
    _level_index("grade", "missing", "expected", "adjacent"),
    _level_index("school", "missing", "same", "level_change"),
    _level_index(
        "guardian", "missing", "phone_and_email", "phone_or_email", "name_only", "given_name"
    ),
    _level_index("address", "missing", "exact", "close", "zip_only"),
)
#: Grades either side of a child's own within which another child could carry its name.
NAMESAKE_GRADE_BAND = 1


def expected_namesakes(
    ea: EncodedSide,
    eb: EncodedSide,
    archived: npt.NDArray[np.int64],
    target: npt.NDArray[np.int64],
    freqs: dict[str, npt.NDArray[np.float64]],
    band_grades: int = NAMESAKE_GRADE_BAND,
) -> npt.NDArray[np.float64]:
    """How many other synced children of the pair's grade band would carry its full name by
    chance: synced students within the band times the district's given-name and surname
    frequencies (an estimate that assumes the two names are drawn independently)."""
    first = ea.first[archived]
    last = ea.last_key[archived]
    p = freqs["first_name"][np.maximum(first, 0)] * freqs["last_name"][np.maximum(last, 0)]
    p[(first < 0) | (last < 0)] = 1.0
    grades = eb.grade.astype(np.int64)
    known = grades[grades != GRADE_MISSING]
    if len(known) == 0:
        band = np.full(len(target), float(len(eb)))
    else:
        low = int(known.min()) - band_grades
        counts = np.bincount(known - low, minlength=int(known.max()) - low + band_grades + 2)
        window = np.convolve(counts, np.ones(2 * band_grades + 1), mode="same")
        g = grades[target]
        band = np.where(
            g == GRADE_MISSING,
            float(len(eb)),
            window[np.clip(g - low, 0, len(window) - 1)],
        )
    return np.asarray(band * p, dtype=np.float64)


def _namesake_evidence(expected: float) -> FieldEvidence:
    return FieldEvidence("names_only", f"{expected:.2g} namesakes expected", 0.0)


#: Why a pair whose own contacts share nothing still counts as one household's.
_FAMILY_EVIDENCE = FieldEvidence(
    "household", "same family through a sibling's or another guardian's contacts", 0.0
)


def _merges(
    scored: ScoredPairs,
    groups: I64,
    result: Assignment,
    ea: EncodedSide,
    eb: EncodedSide,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    settings: Settings,
    hashes: _Hashes,
    freqs: dict[str, npt.NDArray[np.float64]],
    families: Families | None,
    possible: set[tuple[int, int]],
    names: Sequence[str],
) -> Decided:
    """One merge per archived record whose group was assigned a synced student.

    ``possible`` are the pairs of archived records that may be one child typed twice
    (see :func:`merge_engine.matching._duplicates.archived_groups`)."""
    nb = np.int64(max(len(eb), 1))
    codes = scored.archived * nb + scored.synced
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]

    archived = np.arange(len(ea), dtype=np.int64)
    target = result.synced[groups] if len(groups) else np.empty(0, np.int64)
    archived = archived[target != NONE]
    target = target[target != NONE]
    wanted = archived * nb + target
    pos = np.minimum(np.searchsorted(sorted_codes, wanted), max(len(sorted_codes) - 1, 0))
    present = (len(sorted_codes) > 0) & (sorted_codes[pos] == wanted)
    archived, target, k_all = archived[present], target[present], order[pos[present]]

    prob = scored.scores.probability
    g_of = groups[archived]
    margin = result.margin[g_of]
    lv = scored.levels.levels[k_all]
    # By merge index, for the few merges with a reason (most have none: no list each).
    reasons: dict[int, list[str]] = {}

    def flag(mask: npt.NDArray[np.bool_], text: str) -> None:
        for i in np.flatnonzero(mask).tolist():
            reasons.setdefault(i, []).append(text)

    p = prob[k_all]
    flag(
        p < settings.review_threshold,
        "own evidence weak; proposed as a duplicate of another archived record",
    )
    flag(
        (p >= settings.review_threshold) & (p < settings.auto_threshold),
        "confidence below the auto-merge threshold",
    )
    rival_k1 = result.best_pair(g_of, result.rival_synced[g_of], len(eb))
    rival_k2 = result.best_pair(result.rival_group[g_of], target, len(eb))
    typed_twice = (
        _typed_twice_rival(
            scored, groups, possible, archived, target, k_all, rival_k1, rival_k2, ea, eb,
            families, settings,
        )
        if settings.household_rules
        else np.zeros(len(archived), np.bool_)
    )  # fmt: skip
    for i in np.flatnonzero((margin < settings.margin_bits) & ~typed_twice).tolist():
        reasons.setdefault(i, []).append(
            f"a competing candidate is within {max(float(margin[i]), 0.0):.1f} bits"
        )
    renamed = _every_level(lv, _RENAMED_IN_HOUSEHOLD)
    # Two given names that this district gives to one gender each, a girl's and a boy's
    # (Antonia and Antonio), stand in for a gender left blank: one typo between them is a
    # twin or a sibling. A unisex name on either side (Jordan, Peyton) says nothing, so a
    # spelling of one's own (Jordyn for a boy Jordan) keeps the typo reading.
    jsex, (sex_missing,) = _level_index("gender", "missing")
    # (one more entry, 0, for a blank given name: code -1)
    name_sex = np.r_[name_genders((ea, eb), len(freqs["first_name"])), np.int8(0)]
    sex_a, sex_b = name_sex[ea.first[archived]], name_sex[eb.first[target]]
    named_apart = (lv[:, jsex] == sex_missing) & (sex_a != 0) & (sex_b != 0) & (sex_a != sex_b)
    only_child = np.zeros(len(lv), np.bool_)
    if families is not None and families.alone_archived is not None:
        assert families.alone_synced is not None
        only_child = (
            families.same(archived, target)
            & families.alone_archived[archived]
            & families.alone_synced[target]
        )
        only_child &= _every_level(lv, _ONLY_CHILD_OF_CLASS)
        only_child &= ~named_apart
    lifted = {_SURNAMES_DIFFER: renamed, _LOOSELY_SIMILAR: only_child}
    for (j, bad), text in _GATES if settings.household_rules else ():
        hit = np.isin(lv[:, j], bad)
        if text in lifted:
            hit &= ~lifted[text]
        flag(hit, text)
    if settings.household_rules:
        # Twins are often named alike (Aidan and Aiden): a given name one typo away is
        # a typo or a twin. What belongs to the child alone decides: never auto when it
        # disagrees; with typo_needs_child_evidence, only auto when some of it agrees.
        (jn, close), *child = _TWIN_CHECKS
        agrees = np.zeros(len(lv), np.bool_)
        disagrees = np.zeros(len(lv), np.bool_)
        for j, good, bad in child:
            agrees |= np.isin(lv[:, j], good)
            disagrees |= np.isin(lv[:, j], bad)
        typo = np.isin(lv[:, jn], close)
        flag(
            typo & disagrees,
            "given names differ by a typo and the child's own gender, middle name or "
            "identifier disagrees: a twin, not a typo",
        )
        flag(
            typo & named_apart & ~disagrees,
            "given names differ by a typo and name a girl and a boy (as this district uses "
            "them): a twin or a sibling, not a typo",
        )
        # Names one slip apart that start with other sounds (Mason and Jason, Ayden and
        # Jayden), both given to several children of the district: rhyming names, which
        # twins are often given, not a misspelling (which rarely changes how a name starts
        # and rarely lands on another name). The gender cannot tell such twins apart: only
        # a middle name or an identifier that agrees keeps the typo reading.
        n_names = len(freqs["first_name"])
        sound = np.r_[initial_sounds(names[:n_names]), np.int8(-1)]
        used = np.r_[given_name_counts((ea, eb), n_names) >= RHYME_MIN_RECORDS, False]
        fa, fb = ea.first[archived], eb.first[target]
        own_agrees = _any_level(lv, _OWN_EVIDENCE)
        rhyme = (sound[fa] >= 0) & (sound[fb] >= 0) & (sound[fa] != sound[fb]) & used[fa] & used[fb]
        flag(
            typo & rhyme & ~own_agrees & ~disagrees,
            "given names one letter apart that start with other sounds, both names of "
            "several children here (Mason and Jason): a twin or a sibling, not a typo",
        )
        # Two archived records taken for one child typed twice, and a synced given name a
        # slip away from theirs: twins named alike look the same when one twin's record
        # carries the slip (Katelyn for Kaitlyn beside her twin Katelyn).
        grouped = np.bincount(groups, minlength=len(groups))[g_of] > 1
        flag(
            typo & grouped,
            "typed twice, and the synced given name is a typo away from the records': "
            "twins named alike look the same (one twin's record with a slip)",
        )
        if settings.typo_needs_child_evidence:
            flag(
                typo & ~agrees & ~disagrees,
                "given names differ by a typo and nothing that belongs to the child alone "
                "(gender, middle name, identifier) confirms it: a typo or a twin",
            )
        # A child moves up one grade a year: grades further apart, without a birth date
        # to show a typo, are two children (siblings share names, guardians, addresses).
        (jg, far), (jd, same_day) = _GRADE_CONFLICT
        flag(
            np.isin(lv[:, jg], far) & ~np.isin(lv[:, jd], same_day),
            "grades differ by more than a year and no birth date confirms the pair",
        )
        # Two children can share a name, a grade and a school; without something
        # that belongs to the child or its household, a merge is a guess.
        anchored = (
            _any_level(lv, _ANCHORS)
            | _every_level(lv, _TYPO_DATE_ANCHOR)
            | _every_level(lv, _GUARDIAN_NAME_ANCHOR)
        )
        family = (
            families.same(archived, target) if families is not None else np.zeros(len(lv), np.bool_)
        )
        by_family = family & ~anchored
        flag(
            typo & _every_level(lv, _OTHER_HOUSEHOLD) & ~family,
            "given names differ by a typo and the household is another (no guardian "
            "shared, another address): a namesake, not a typo",
        )
        if families is not None and families.alike_archived is not None:
            assert families.alike_synced is not None
            alike = families.alike_archived[archived] | families.alike_synced[target]
            flag(
                alike & ~own_agrees,
                "the family has twins of one gender with similar given names, and no middle "
                "name or identifier tells which one this is",
            )
        if families is not None and families.mixed_archived is not None:
            assert families.mixed_synced is not None
            mixed = families.mixed_archived[archived] | families.mixed_synced[target]
            own_or_sex = (lv[:, jsex] == _level_index("gender", "same")[1][0]) | own_agrees
            flag(
                mixed & ~own_or_sex,
                "the family has twins of both genders with similar given names (Jordan and "
                "Jordyn), and no recorded gender, middle name or identifier tells which one "
                "this is",
            )
        anchored |= family
        namesakes = expected_namesakes(
            ea, eb, archived, target, freqs, settings.namesake_grade_band
        )
        rare = (namesakes <= settings.max_expected_namesakes) & _every_level(lv, _RARE_NAME_PAIR)
        flag(
            ~anchored & ~rare,
            "nothing but names and school data agree (no birth date, identifier or guardian)",
        )
        # Below the auto threshold with nothing but names, a reviewer sees no more than the
        # engine did: on both generators such proposals were wrong 95-100 % of the time
        # (children who left, paired with a classmate of a similar name). Not proposed.
        alone = np.bincount(groups, minlength=len(groups))[g_of] == 1
        weak = ~anchored & ~rare & (p < settings.auto_threshold) & alone
    else:
        weak = np.zeros(len(lv), np.bool_)

    # The records of each group of several (most records are a group of their own).
    members: dict[int, list[int]] = {}
    several = np.flatnonzero(np.bincount(groups)[groups] > 1) if len(groups) else groups
    for idx, g in zip(several.tolist(), groups[several].tolist(), strict=True):
        members.setdefault(g, []).append(idx)
    a_ids = list(map(_ID, a_students))
    rivals, competitors = _competitors(scored, (rival_k1, rival_k2))
    codes, kinds = _evidence_kinds(scored.levels.comparisons, lv, scored.contributions(k_all))
    extra: dict[int, tuple[FieldEvidence, ...]] = {}
    adjustment = scored.scores.adjustment[k_all]
    for i, value in zip(
        np.flatnonzero(adjustment < 0).tolist(), adjustment[adjustment < 0].tolist(), strict=True
    ):
        extra[i] = (FieldEvidence("given_name_conflict_cap", "applied", value),)
    if settings.household_rules:
        for i, expected in zip(
            np.flatnonzero(~anchored).tolist(), namesakes[~anchored].tolist(), strict=True
        ):
            extra[i] = (*extra.get(i, ()), _namesake_evidence(expected))
        for i in np.flatnonzero(by_family & anchored).tolist():
            extra[i] = (*extra.get(i, ()), _FAMILY_EVIDENCE)
    in_group = np.flatnonzero(np.isin(g_of, list(members)))
    duplicates = {
        i: tuple([a_ids[m] for m in members[g] if m != a])
        for i, a, g in zip(
            in_group.tolist(), archived[in_group].tolist(), g_of[in_group].tolist(), strict=True
        )
    }
    jf = next(j for j, c in enumerate(scored.levels.comparisons) if c.name == "first_name")
    decided = Decided(
        archived=archived,
        target=target,
        review=_marked(len(archived), list(reasons)),
        # Rounded here, a whole array at once, as the Merge converters would round them.
        confidence=_rounded(p, PROBABILITY_DIGITS),
        weight=_rounded(scored.scores.log_odds[k_all], BITS_DIGITS),
        margin=[
            m if finite else None
            for m, finite in zip(
                _rounded(margin, BITS_DIGITS), np.isfinite(margin).tolist(), strict=True
            )
        ],
        codes=codes,
        kinds=kinds,
        extra=extra,
        reasons={i: tuple(why) for i, why in reasons.items()},
        rivals=rivals,
        competitor_archived=competitors[0],
        competitor_synced=competitors[1],
        competitor_confidence=competitors[2],
        duplicates=duplicates,
        first_name=lv[:, jf],
        a_ids=a_ids,
        b_ids=list(map(_ID, b_students)),
        hashes=hashes,
    )
    return decided.without(~weak)


#: Surname levels of a record of the child itself (a slip, one word of a compound).
_SURNAME_OF_THE_CHILD = _level_index("last_name", "exact", "compound", "close")
#: Guardian levels that tie a record to a synced student's household by itself.
_HOUSEHOLD_TIE = _level_index("guardian", "phone_and_email", "phone_or_email", "name_only")


def _typed_twice_rival(
    scored: ScoredPairs,
    groups: I64,
    possible: set[tuple[int, int]],
    archived: I64,
    target: I64,
    k_all: I64,
    rival_k1: I64,
    rival_k2: I64,
    ea: EncodedSide,
    eb: EncodedSide,
    families: Families | None,
    settings: Settings,
) -> npt.NDArray[np.bool_]:
    """Assigned pairs whose only competitor for their synced student is another record of
    the same child: a child typed in by two teachers, each record with the other guardian.

    The rival record has the same given name (normalised, exactly: twins and siblings never
    share a given name), both surnames agree with the student's (exactly, as a word of a
    compound or but for a slip), the same grade, nothing that disagrees (gender,
    birth date, middle name), and the duplicate search found the two alike; both records
    are tied to the synced student's household (a guardian's phone, email or full name,
    or the family); no third child competes for the student, and the winner's own other
    candidates are ``margin_bits`` weaker. The competition then says "typed twice", not
    "another child": it is no reason for review. The second record is proposed with the
    same student as a possible duplicate (``_contested_duplicates``)."""
    out = np.zeros(len(archived), np.bool_)
    has = rival_k2 != NONE
    if not has.any() or not possible:
        return out
    at = np.flatnonzero(has)
    a, s, k, rk = archived[at], target[at], k_all[at], rival_k2[at]
    r = scored.archived[rk]
    same = (ea.first[a] == ea.first[r]) & (ea.first[a] != MISSING)
    same &= (ea.grade[a] == ea.grade[r]) & (ea.grade[a] != GRADE_MISSING)
    for values, blank in ((ea.gender, 0), (ea.dob, MISSING), (ea.middle, MISSING)):
        same &= (values[a] == values[r]) | (values[a] == blank) | (values[r] == blank)
    same &= np.fromiter(
        ((x, y) in possible for x, y in zip(a.tolist(), r.tolist(), strict=True)),
        np.bool_,
        count=len(a),
    )
    lv = scored.levels.levels
    j, tie = _HOUSEHOLD_TIE
    jl, surname = _SURNAME_OF_THE_CHILD
    for rec, pair in ((a, k), (r, rk)):
        same &= np.isin(lv[pair, jl], surname)
        household = np.isin(lv[pair, j], tie)
        if families is not None:
            household |= families.same(rec, s)
        same &= household
    bits = scored.scores.log_odds
    own_rival = np.where(rival_k1[at] != NONE, bits[np.maximum(rival_k1[at], 0)], -np.inf)
    same &= bits[k] - own_rival >= settings.margin_bits
    floor = float(np.log2(settings.review_threshold / (1 - settings.review_threshold)))
    # The groups competing for each of these students (only theirs: a million pairs' keys
    # took a tenth of a second to sort).
    wanted = np.zeros(len(eb), np.bool_)
    wanted[s] = True
    eligible = (bits > floor) & wanted[scored.synced]
    nb = np.int64(max(len(eb), 1))
    keys = unique(groups[scored.archived[eligible]] * nb + scored.synced[eligible])
    competing = np.bincount(keys % nb, minlength=len(eb))
    same &= competing[s] == 2
    out[at[same]] = True
    return out


def _rounded(values: npt.NDArray[np.floating[Any]], digits: int) -> list[float]:
    """``round(float(v), digits)`` of each value, bit for bit, a whole array at once; equal
    results are one float object (a plan repeats them: 272 confidences at 150,000 merges).

    numpy scales, rounds half to even and divides back. An integer over a power of ten
    gives the same nearest double as Python's ``round``, so only the integer can differ:
    where the scaled value lies within a hair of a half (one rounding of the product may
    have moved it across), is not finite or is too large to be exact, Python rounds it."""
    v = np.asarray(values, np.float64)
    scale = 10.0**digits
    scaled = v * scale
    whole = np.rint(scaled)
    out = whole / scale
    with np.errstate(invalid="ignore"):
        unsure = ~(np.abs(scaled) < 2.0**31) | (np.abs(np.abs(scaled - whole) - 0.5) < 1e-5)
    for i in np.flatnonzero(unsure).tolist():
        out[i] = round(float(v[i]), digits)
    # Alike by their bits, not by ==: -0.0 stays apart from 0.0 (the JSON tells them apart).
    kinds, inverse = np.unique(out.view(np.int64), return_inverse=True)
    shared: list[float] = kinds.view(np.float64).tolist()
    return list(map(shared.__getitem__, inverse.reshape(-1).tolist()))


_ID = attrgetter("id")


def _marked(n: int, rows: list[int]) -> npt.NDArray[np.bool_]:
    out = np.zeros(n, np.bool_)
    out[rows] = True
    return out


def _competitors(
    scored: ScoredPairs, rivals: tuple[I64, ...]
) -> tuple[npt.NDArray[np.int32], tuple[I64, I64, list[float]]]:
    """Per merge, its rival pairs (pair indices, ``NONE`` for none) as codes of competitors
    (-1 for none), and each competitor's archived and synced record and confidence. A pair
    that competes with two merges (one each side) is one competitor."""
    ks = np.stack(rivals, axis=1) if rivals else np.empty((0, 0), np.int64)
    known = ks != NONE
    pairs, inverse = np.unique(ks[known], return_inverse=True)
    codes = np.full(ks.shape, -1, np.int32)
    codes[known] = inverse.reshape(-1)
    confidence = _rounded(scored.scores.probability[pairs], PROBABILITY_DIGITS)
    return codes, (scored.archived[pairs], scored.synced[pairs], confidence)


def _evidence_kinds(
    comparisons: Sequence[Comparison], levels: npt.NDArray[np.int8], bits: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.int32], list[npt.NDArray[np.object_]]]:
    """Each pair's evidence, one per comparison, as codes into each comparison's values.
    Evidence values are immutable and repeat a lot, so each distinct (comparison, level,
    bits) is made once and shared."""
    codes = np.empty(levels.shape, np.int32)
    shared: list[npt.NDArray[np.object_]] = []
    for j, comparison in enumerate(comparisons):
        n_levels = len(comparison.levels)
        column = bits[:, j]
        if column.dtype == np.float32 and not (
            np.isnan(column).any() or (np.signbit(column) & (column == 0)).any()
        ):
            # Floats apart by their bits (no -0.0 beside 0.0, no nan): one sort of a key
            # of the float's bits and the level.
            key = column.view(np.uint32).astype(np.int64) * n_levels + levels[:, j]
            kinds, inverse = np.unique(key, return_inverse=True)
            values = (kinds // n_levels).astype(np.uint32).view(np.float32)
        else:
            distinct, value_code = np.unique(column, return_inverse=True)
            kinds, inverse = np.unique(value_code * n_levels + levels[:, j], return_inverse=True)
            values = distinct[kinds // n_levels]
        made = np.empty(len(kinds), object)
        made[:] = [
            FieldEvidence(comparison.name, comparison.levels[kind % n_levels], value)
            for kind, value in zip(kinds.tolist(), values.tolist(), strict=True)
        ]
        shared.append(made)
        codes[:, j] = inverse.reshape(-1)
    return codes, shared
