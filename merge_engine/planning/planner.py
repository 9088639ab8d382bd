"""Building a merge plan from an archived and a synced roster.

The pipeline: encode both rosters as arrays, generate candidate pairs,
compare them field by field, learn the model (u from random pairs, m by
EM), score, group archived duplicates, solve the global assignment and
turn each assigned pair into an ``auto`` or ``review`` merge with its
evidence. Planning never writes anything.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from .._gc import gc_paused
from .._log import get_logger
from ..accounts.guardians import _plan_guardians
from ..accounts.roles import _find_roles
from ..matching.assignment import NONE, Assignment, assign
from ..matching.blocking import (
    DUPLICATE_ONLY_RULES,
    FALLBACK_RULES,
    BlockingStats,
    generate_candidates,
)
from ..matching.comparisons import COMPARISONS
from ..matching.duplicates import archived_groups
from ..matching.features import GRADE_MISSING, EncodedSide, Vocabularies, encode_students
from ..matching.fellegi_sunter import estimate_model
from ..matching.households import (
    Families,
    alike_twins,
    alone_in_class,
    find_families,
    leftover_pairs,
    second_records,
)
from ..matching.scoring import ScoredPairs, compare, name_frequencies, score
from ..model import Roster, Student
from ..plan import Competitor, FieldEvidence, Merge, MergePlan
from ..settings import Settings

__all__ = ["build_plan", "guardian_ids", "record_hashes", "student_hash"]

log = get_logger(__name__)
I64 = npt.NDArray[np.int64]

_FIELDS = (
    "first_name", "middle_name", "last_name", "dob", "grade", "gender", "school_id", "sis_id",
    "state_id", "student_number", "email", "street", "city", "state", "zip",
)  # fmt: skip


def student_hash(student: Student, *, contacts: bool = True) -> str:
    """A short content hash of a student record, to detect changes after planning.

    It covers the record's own fields and, unless ``contacts`` is false, the
    ids of its guardian accounts (in id order: a database may not keep the
    export's order). Guardian contact details are not part of it: they
    belong to the account, and a changed phone does not make another child.
    """
    parts = [str(getattr(student, f) or "") for f in _FIELDS]
    if contacts:
        parts += sorted(c.guardian_id for c in student.contacts)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def guardian_ids(student: Student) -> tuple[str, ...]:
    """The student's guardian account ids, sorted (what a merge records of its synced student)."""
    return tuple(sorted({c.guardian_id for c in student.contacts}))


def record_hashes(archived: Student, synced: Student) -> dict[str, Any]:
    """The ``archived_hash``, ``synced_hash`` and ``synced_guardians`` a merge of the two records
    carries (for building a :class:`~merge_engine.plan.Merge` by hand)."""
    return {
        "archived_hash": student_hash(archived),
        "synced_hash": student_hash(synced, contacts=False),
        "synced_guardians": guardian_ids(synced),
    }


def _roster_fingerprint(
    students: Sequence[Student],
    hashes: Sequence[str],
    guardians: Sequence[tuple[str, ...]] | None = None,
) -> str:
    """A digest of every record's id and hash (and, when given, its guardian account ids)."""
    digest = hashlib.sha256()
    for i, (student, h) in enumerate(zip(students, hashes, strict=True)):
        extra = "\x1f".join(guardians[i]) if guardians is not None else ""
        digest.update(f"{student.id}\x1e{h}\x1e{extra}\x1d".encode())
    return digest.hexdigest()


@attrs.frozen
class _Hashes:
    """Per student, what a merge records to refuse it if the record changes before apply."""

    archived: list[str]
    synced: list[str]  # own fields only: the synced student's guardian ids are listed apart
    synced_guardians: list[tuple[str, ...]]


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
    _level_index("guardian", "missing", "phone_and_email", "phone_or_email", "name_only"),
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
        low = int(known.min()) - NAMESAKE_GRADE_BAND
        counts = np.bincount(
            known - low, minlength=int(known.max()) - low + NAMESAKE_GRADE_BAND + 2
        )
        window = np.convolve(counts, np.ones(2 * NAMESAKE_GRADE_BAND + 1), mode="same")
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


def _families(
    ea: EncodedSide, eb: EncodedSide, vocab: Vocabularies, settings: Settings
) -> Families | None:
    if not settings.household_rules or settings.household_max_children == 0:
        return None
    families = find_families(ea, eb, len(vocab.contacts), settings.household_max_children)
    return attrs.evolve(
        families,
        alike_archived=alike_twins(families.archived, ea, vocab, settings),
        alike_synced=alike_twins(families.synced, eb, vocab, settings),
        alone_archived=alone_in_class(families.archived, ea),
        alone_synced=alone_in_class(families.synced, eb),
    )


class _Timer:
    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self.start = time.perf_counter()
        self.laps: dict[str, float] = {}
        self.progress = progress

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.start, 3)
        self.start = now
        if self.progress is not None:
            self.progress(name)


def build_plan(
    archived: Roster,
    synced: Roster,
    settings: Settings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    rejected: Collection[tuple[str, str]] = (),
) -> MergePlan:
    """Match archived students to synced ones and return the plan. Read-only.

    Args:
        archived: the students archived before the first sync.
        synced: the students the sync created.
        settings: thresholds and model options; the defaults need no tuning.
        progress: called with each stage's name as the stage ends (a progress bar).
        rejected: (archived id, synced id) pairs a reviewer rejected: never proposed,
            so the archived record can still go to its next best candidate.

    Returns:
        A deterministic :class:`MergePlan`: the same inputs and settings give
        the same plan, whatever the row order.
    """
    # The cyclic garbage collector would traverse the whole roster object
    # graph again and again while the pipeline allocates; nothing here makes
    # reference cycles, so pause it for the duration.
    with gc_paused():
        return _build_plan(archived, synced, settings or Settings(), progress, rejected)


def _build_plan(
    archived: Roster,
    synced: Roster,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
    rejected: Collection[tuple[str, str]] = (),
) -> MergePlan:
    timer = _Timer(progress)
    a_students = sorted(archived.students, key=lambda s: s.id)
    b_students = sorted(synced.students, key=lambda s: s.id)
    refused = _pair_codes(rejected, a_students, b_students)
    vocab = Vocabularies.new()
    ea = encode_students(
        a_students,
        vocab,
        has_dob_column=archived.has_dob_column,
        phone_region=settings.phone_region,
    )
    eb = encode_students(
        b_students, vocab, has_dob_column=synced.has_dob_column, phone_region=settings.phone_region
    )
    timer.lap("encode")

    primary = [r for r in settings.blocking_rules if r not in FALLBACK_RULES | DUPLICATE_ONLY_RULES]
    cands = generate_candidates(
        ea, eb, vocab.names, rules=primary, max_block_pairs=settings.max_block_pairs
    )
    timer.lap("blocking")
    levels = compare(ea, eb, cands.archived, cands.synced, vocab, settings)
    timer.lap("compare")

    rng = np.random.default_rng(settings.seed)
    n_random = min(settings.random_pairs, len(ea) * len(eb))
    ra = np.sort(rng.integers(0, max(len(ea), 1), n_random)).astype(np.int64)
    rb = rng.integers(0, max(len(eb), 1), n_random).astype(np.int64)
    random_levels = compare(ea, eb, ra, rb, vocab, settings)
    model = estimate_model(
        levels,
        random_levels,
        expected_matches=min(len(ea), len(eb)),
        family_cap_bits=settings.family_cap_bits,
        name_conflict_max_probability=settings.name_conflict_max_probability,
        conflict_with_identifier_max_probability=settings.conflict_with_identifier_max_probability,
        max_iterations=settings.em_max_iterations,
        household_rules=settings.household_rules,
    )
    timer.lap("model")
    freqs = name_frequencies((ea, eb), len(vocab.names))
    scored = score(ea, eb, cands.archived, cands.synced, levels, model, freqs)
    timer.lap("score")

    rule_stats = list(cands.stats)
    fallback = [r for r in settings.blocking_rules if r in FALLBACK_RULES]
    if fallback:
        best = np.zeros(len(ea))
        np.maximum.at(best, scored.archived, scored.scores.probability)
        nb = np.int64(max(len(eb), 1))
        more = generate_candidates(
            ea,
            eb,
            vocab.names,
            rules=fallback,
            max_block_pairs=settings.max_block_pairs,
            archived_subset=best < settings.auto_threshold,
            exclude=scored.archived * nb + scored.synced,
        )
        rule_stats += more.stats
        more_levels = compare(ea, eb, more.archived, more.synced, vocab, settings)
        scored = _concat(
            scored, score(ea, eb, more.archived, more.synced, more_levels, model, freqs)
        )
    timer.lap("fallback")
    families = _families(ea, eb, vocab, settings)
    if families is not None:
        nb = np.int64(max(len(eb), 1))
        fa, fb = families.candidate_pairs(
            ea, eb, settings.grade_progression, scored.archived * nb + scored.synced
        )
        rule_stats.append(BlockingStats(rule="household", pairs=len(fa), skipped_keys=0))
        if len(fa):
            family_levels = compare(ea, eb, fa, fb, vocab, settings)
            scored = _concat(scored, score(ea, eb, fa, fb, family_levels, model, freqs))
    timer.lap("households")

    groups, possible_duplicates, dedupe_pairs = archived_groups(ea, vocab, model, freqs, settings)
    scored = _with_group_pairs(scored, groups, ea, eb, vocab, model, freqs, settings)
    timer.lap("duplicates")

    scored = _without_pairs(scored, refused, len(eb))
    floor = float(np.log2(settings.review_threshold / (1 - settings.review_threshold)))
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    result = assign(
        groups[scored.archived],
        scored.synced,
        scored.scores.log_odds,
        n_groups=n_groups,
        n_synced=len(eb),
        floor_bits=floor,
    )
    timer.lap("assignment")

    hashes = _Hashes(
        [student_hash(s) for s in a_students],
        [student_hash(s, contacts=False) for s in b_students],
        [guardian_ids(s) for s in b_students],
    )
    merges = _merges(
        scored, groups, result, ea, eb, a_students, b_students, settings, hashes, freqs, families
    )
    scored = _with_partner_pairs(
        scored, groups, result, possible_duplicates, ea, eb, vocab, model, freqs, settings
    )
    contested = _contested_duplicates(
        scored, groups, result, possible_duplicates, a_students, b_students, settings, hashes
    )
    if families is not None:
        contested += _family_leftovers(
            scored,
            families,
            merges,
            contested,
            ea,
            eb,
            a_students,
            b_students,
            settings,
            hashes,
        )
    contested = _typed_twice(contested, families, a_students, b_students, settings.auto_threshold)
    # The link is mutual: the winner's merge names the record contesting it.
    contesting: dict[str, list[str]] = {}
    for merge in contested:
        for winner in merge.duplicates:
            contesting.setdefault(winner, []).append(merge.archived_id)
    merges = [
        attrs.evolve(m, duplicates=sorted({*m.duplicates, *contesting[m.archived_id]}))
        if m.archived_id in contesting
        else m
        for m in merges
    ]
    merges += contested
    if len(refused):
        gone = {(a_students[int(c // max(len(eb), 1))].id, b_students[int(c % max(len(eb), 1))].id)
                for c in refused.tolist()}  # fmt: skip
        merges = [m for m in merges if (m.archived_id, m.synced_id) not in gone]
    merges.sort(key=lambda m: (m.archived_id, m.synced_id))
    taken_a = {m.archived_id for m in merges}
    taken_b = {m.synced_id for m in merges}
    timer.lap("decisions")

    warnings = [w.to_dict() for w in (*archived.warnings, *synced.warnings)]
    progression = _observed_progression(ea, eb, scored)
    if progression is not None and progression != settings.grade_progression:
        warnings.append(
            _note(
                f"most confident pairs moved {progression:+d} grade(s), but grade_progression "
                f"is {settings.grade_progression:+d}; if the archive and the sync are from "
                f"{'the same school year' if progression == 0 else 'different years'}, "
                f"plan again with grade_progression = {progression}"
            )
        )
    if not synced.has_dob_column:
        warnings.append(
            _note(
                "synced roster has no birth dates; matching relies on names, grades and guardians"
            )
        )
    skipped = sum(s.skipped_keys for s in rule_stats)
    if skipped:
        warnings.append(_note(f"{skipped} blocking keys shared by too many records were skipped"))
    timer.lap("fingerprint")
    stats = {
        "archived_students": len(ea),
        "synced_students": len(eb),
        "pairs_compared": len(scored),
        "pairs_possible": len(ea) * len(eb),
        "duplicate_pairs_compared": dedupe_pairs,
        "archived_duplicate_records": int(len(groups) - n_groups),
        "blocking": {
            s.rule: {"pairs": s.pairs, "skipped_keys": s.skipped_keys} for s in rule_stats
        },
        "components": result.components,
        "largest_component": result.largest_component,
    }
    adults = _adults(archived, synced, merges, settings)
    timer.lap("guardians")
    log.info(
        "plan_built",
        archived=len(ea),
        synced=len(eb),
        pairs=len(scored),
        merges=len(merges),
        seconds=timer.laps,
    )
    return MergePlan(
        merges=merges,
        unmatched_archived=[s.id for s in a_students if s.id not in taken_a],
        unmatched_synced=[s.id for s in b_students if s.id not in taken_b],
        warnings=warnings,
        settings=settings.to_dict(),
        model=model.to_dict(),
        stats=stats,
        fingerprint={
            "archived": _roster_fingerprint(a_students, hashes.archived),
            "synced": _roster_fingerprint(b_students, hashes.synced, hashes.synced_guardians),
            "archived_source_format": archived.format,
            "synced_source_format": synced.format,
        },
        **adults,
    )


def _adults(
    archived: Roster, synced: Roster, merges: Sequence[Merge], settings: Settings
) -> dict[str, Any]:
    """Guardian merges, old-guardian actions and multiple-role users for the plan."""
    guardian_merges, actions, synced_accounts = _plan_guardians(archived, synced, merges, settings)
    role_action: Literal["keep_apart", "link", "merge"] = {
        "separate": "keep_apart",
        "link": "link",
        "merge": "merge",
    }[settings.multiple_role_policy]  # type: ignore[assignment]
    links = [
        attrs.evolve(link, action=role_action if link.verdict == "same_person" else "review")
        for link in _find_roles(synced, synced_accounts)
    ]
    return {"guardian_merges": guardian_merges, "guardian_actions": actions, "role_links": links}


def _observed_progression(ea: EncodedSide, eb: EncodedSide, scored: ScoredPairs) -> int | None:
    """The usual grade change among near-certain pairs, when it is clear."""
    from ..matching.features import GRADE_MISSING  # noqa: PLC0415

    sure = scored.scores.probability >= 0.999
    ga = ea.grade[scored.archived[sure]].astype(np.int64)
    gb = eb.grade[scored.synced[sure]].astype(np.int64)
    known = (ga != GRADE_MISSING) & (gb != GRADE_MISSING)
    deltas = gb[known] - ga[known]
    if len(deltas) < 20:
        return None
    values, counts = np.unique(deltas, return_counts=True)
    best = int(np.argmax(counts))
    return int(values[best]) if counts[best] >= 0.6 * len(deltas) else None


def _note(message: str) -> dict[str, object]:
    return {"path": None, "line": None, "column": None, "message": message}


def _with_group_pairs(
    scored: ScoredPairs,
    groups: I64,
    ea: EncodedSide,
    eb: EncodedSide,
    vocab: Vocabularies,
    model: object,
    freqs: dict[str, npt.NDArray[np.float64]],
    settings: Settings,
) -> ScoredPairs:
    """Add the pairs between every member of a duplicate group and its group's candidates."""
    sizes = np.bincount(groups)
    multi = sizes[groups[scored.archived]] > 1
    if not multi.any():
        return scored
    members: dict[int, list[int]] = {}
    for idx in np.flatnonzero(sizes[groups] > 1).tolist():
        members.setdefault(int(groups[idx]), []).append(idx)
    nb = np.int64(max(len(eb), 1))
    existing = set((scored.archived * nb + scored.synced).tolist())
    extra: set[int] = set()
    for a, b in zip(scored.archived[multi].tolist(), scored.synced[multi].tolist(), strict=True):
        for member in members[int(groups[a])]:
            code = member * int(nb) + b
            if code not in existing:
                extra.add(code)
    return _with_pairs(scored, extra, ea, eb, vocab, model, freqs, settings)


def _with_partner_pairs(
    scored: ScoredPairs,
    groups: I64,
    result: Assignment,
    possible: set[tuple[int, int]],
    ea: EncodedSide,
    eb: EncodedSide,
    vocab: Vocabularies,
    model: object,
    freqs: dict[str, npt.NDArray[np.float64]],
    settings: Settings,
) -> ScoredPairs:
    """Score each unassigned record against the synced students its possible duplicates took.

    A child typed twice whose second record has too little of its own to be a
    candidate (a nickname, other contacts) must still be proposed with the
    first one's synced student, for review; that needs the pair's evidence.
    """
    if not possible:
        return scored
    nb = np.int64(max(len(eb), 1))
    flat = np.fromiter((x for pair in possible for x in pair), np.int64, count=2 * len(possible))
    a, m = flat[0::2], flat[1::2]
    s = result.synced[groups[m]]
    keep = (result.synced[groups[a]] == NONE) & (s != NONE)
    codes = a[keep] * nb + s[keep]
    existing = scored.archived * nb + scored.synced
    extra = set(codes.tolist()) - set(existing[np.isin(existing, codes)].tolist())
    return _with_pairs(scored, extra, ea, eb, vocab, model, freqs, settings)


def _with_pairs(
    scored: ScoredPairs,
    codes: set[int],
    ea: EncodedSide,
    eb: EncodedSide,
    vocab: Vocabularies,
    model: object,
    freqs: dict[str, npt.NDArray[np.float64]],
    settings: Settings,
) -> ScoredPairs:
    """``scored`` plus the pairs coded ``archived * len(eb) + synced``, compared and scored."""
    if not codes:
        return scored
    nb = np.int64(max(len(eb), 1))
    ordered = np.array(sorted(codes), np.int64)
    ia, ib = ordered // nb, ordered % nb
    levels = compare(ea, eb, ia, ib, vocab, settings)
    added = score(ea, eb, ia, ib, levels, model, freqs)  # type: ignore[arg-type]
    return _concat(scored, added)


def _pair_codes(
    pairs: Collection[tuple[str, str]], a_students: Sequence[Student], b_students: Sequence[Student]
) -> I64:
    """Codes ``archived * len(synced) + synced`` of the id pairs both rosters hold."""
    a_index = {s.id: i for i, s in enumerate(a_students)}
    b_index = {s.id: i for i, s in enumerate(b_students)}
    nb = max(len(b_students), 1)
    return np.array(
        sorted(a_index[a] * nb + b_index[s] for a, s in pairs if a in a_index and s in b_index),
        np.int64,
    )


def _without_pairs(scored: ScoredPairs, codes: I64, n_synced: int) -> ScoredPairs:
    """``scored`` less the pairs coded in ``codes``."""
    if not len(codes):
        return scored
    keep = ~np.isin(scored.archived * np.int64(max(n_synced, 1)) + scored.synced, codes)
    return _take(scored, keep)


def _take(x: ScoredPairs, index: npt.NDArray[Any]) -> ScoredPairs:
    from ..matching.comparisons import LevelMatrix  # noqa: PLC0415
    from ..matching.fellegi_sunter import PairScores  # noqa: PLC0415

    return ScoredPairs(
        x.archived[index],
        x.synced[index],
        LevelMatrix(x.levels.levels[index], x.levels.comparisons),
        PairScores(
            x.scores.contributions[index],
            x.scores.adjustment[index],
            x.scores.log_odds[index],
            x.scores.probability[index],
        ),
    )


def _concat(x: ScoredPairs, y: ScoredPairs) -> ScoredPairs:
    from ..matching.comparisons import LevelMatrix  # noqa: PLC0415
    from ..matching.fellegi_sunter import PairScores  # noqa: PLC0415

    return ScoredPairs(
        np.concatenate([x.archived, y.archived]),
        np.concatenate([x.synced, y.synced]),
        LevelMatrix(np.concatenate([x.levels.levels, y.levels.levels]), x.levels.comparisons),
        PairScores(
            np.concatenate([x.scores.contributions, y.scores.contributions]),
            np.concatenate([x.scores.adjustment, y.scores.adjustment]),
            np.concatenate([x.scores.log_odds, y.scores.log_odds]),
            np.concatenate([x.scores.probability, y.scores.probability]),
        ),
    )


def _contested_duplicates(
    scored: ScoredPairs,
    groups: I64,
    result: Assignment,
    possible: set[tuple[int, int]],
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    settings: Settings,
    hashes: _Hashes,
) -> list[Merge]:
    """Review merges for records that lost their best candidate to a possible duplicate.

    Two archived records with the same birth date and household and nearly
    the same name are either one child typed twice or twins. The assignment
    gives the synced student to the stronger one; the weaker is proposed
    for review (never auto) rather than dropped, so the reviewer decides.
    """
    prob = scored.scores.probability
    unassigned = result.synced[groups[scored.archived]] == NONE
    owner_of: dict[int, int] = {}
    for g, s in enumerate(result.synced.tolist()):
        if s != NONE:
            owner_of[s] = g
    members: dict[int, list[int]] = {}
    for idx, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(idx)
    # An unassigned record's best pair with a synced student that a possible duplicate
    # of it took (whatever its own confidence: the record must go somewhere), else its
    # best pair above the review floor.
    best: dict[int, tuple[bool, float, int]] = {}
    with_partner = np.zeros(len(groups), np.bool_)
    with_partner[np.fromiter((x for x, _ in possible), np.int64, count=len(possible))] = True
    wanted = unassigned & (with_partner[scored.archived] | (prob >= settings.review_threshold))
    for k in np.flatnonzero(wanted).tolist():
        a, s = int(scored.archived[k]), int(scored.synced[k])
        winner = owner_of.get(s)
        partner = winner is not None and any((a, m) in possible for m in members[winner])
        if not partner and prob[k] < settings.review_threshold:
            continue
        key = (partner, float(prob[k]), -k)
        if a not in best or key > best[a]:
            best[a] = key
    out = []
    for a, (_, _, minus_k) in sorted(best.items()):
        k = -minus_k
        s = int(scored.synced[k])
        winner = owner_of.get(s)
        if winner is None:
            continue
        twins = [m for m in members[winner] if (a, m) in possible]
        if not twins:
            continue
        out.append(
            _review_merge(
                scored,
                k,
                a_students,
                b_students,
                hashes,
                reasons=[
                    "possible duplicate of archived "
                    + ", ".join(a_students[m].id for m in twins)
                    + ", which takes this synced student: approve only if it is the same "
                    "child, not a twin"
                ],
                competitors=[
                    Competitor(a_students[m].id, b_students[s].id, float(prob[k])) for m in twins
                ],
                duplicates=[a_students[m].id for m in twins],
            )
        )
    return out


def _review_merge(
    scored: ScoredPairs,
    k: int,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    hashes: _Hashes,
    *,
    reasons: list[str],
    competitors: list[Competitor] = [],  # noqa: B006 - never mutated
    duplicates: list[str] = [],  # noqa: B006 - never mutated
) -> Merge:
    """A review merge for scored pair ``k``, proposed outside the assignment."""
    a, s = int(scored.archived[k]), int(scored.synced[k])
    lv = scored.levels.levels
    return Merge(
        archived_id=a_students[a].id,
        synced_id=b_students[s].id,
        confidence=float(scored.scores.probability[k]),
        decision="review",
        match_weight=float(scored.scores.log_odds[k]),
        margin_bits=None,
        evidence=[
            FieldEvidence(c.name, c.levels[lv[k, j]], float(scored.scores.contributions[k, j]))
            for j, c in enumerate(scored.levels.comparisons)
        ],
        reasons=reasons,
        competitors=competitors,
        duplicates=duplicates,
        archived_hash=hashes.archived[a],
        synced_hash=hashes.synced[s],
        synced_guardians=hashes.synced_guardians[s],
    )


#: What makes a second record of a child its own sure match: the given name and surname
#: agree, the class is the expected one and nothing of the child's own disagrees. Inside
#: one family that is one child typed twice: no family names two children alike.
_SECOND_RECORD = (
    ("first_name", ("exact",)),
    ("last_name", ("exact", "compound")),
    ("grade", ("expected",)),
    ("dob", ("missing", "exact")),
    ("middle_name", ("missing", "exact", "initial")),
    ("gender", ("missing", "same")),
    ("identifier", ("missing", "exact")),
)


def _typed_twice(
    proposals: list[Merge],
    families: Families | None,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    auto_threshold: float,
) -> list[Merge]:
    """Second records proposed with their first record's synced student become ``auto``
    when they are in that student's family and their own evidence is sure (confident, and
    every field of :data:`_SECOND_RECORD` agreeing)."""
    if families is None:
        return proposals
    a_index = {s.id: i for i, s in enumerate(a_students)}
    b_index = {s.id: i for i, s in enumerate(b_students)}
    out = []
    for m in proposals:
        levels = {e.comparison: e.level for e in m.evidence}
        a, s = a_index[m.archived_id], b_index[m.synced_id]
        sure = (
            bool(m.duplicates)
            and m.confidence >= auto_threshold
            and bool(families.same(np.array([a]), np.array([s]))[0])
            and all(levels.get(c) in ok for c, ok in _SECOND_RECORD)
        )
        out.append(attrs.evolve(m, decision="auto", reasons=()) if sure else m)
    return out


_LEFTOVER_REASON = (
    "the only unmatched records of one family and class, with other given names: the same "
    "child under another name (an English school name, the middle name) or a brother or "
    "sister; approve only if it is the same child"
)


def _family_leftovers(
    scored: ScoredPairs,
    families: Families,
    assigned: Sequence[Merge],
    proposed: Sequence[Merge],
    ea: EncodedSide,
    eb: EncodedSide,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    settings: Settings,
    hashes: _Hashes,
) -> list[Merge]:
    """Review merges for the one unmatched child left on each side of a family's class, and
    for a record whose family's only child of its class another record took.

    ``assigned`` are the assignment's merges, ``proposed`` the other proposals so far: a
    record the assignment placed but whose merge was not proposed (names alone, under
    the auto threshold) is still free here.
    """
    a_index = {s.id: i for i, s in enumerate(a_students)}
    b_index = {s.id: i for i, s in enumerate(b_students)}
    free_a = np.ones(len(ea), np.bool_)
    free_b = np.ones(len(eb), np.bool_)
    owner = np.full(len(eb), -1, np.int64)
    contested = {m.synced_id for m in proposed}  # one contesting record per synced student
    for m in proposed:
        free_a[a_index[m.archived_id]] = False
    for m in reversed(assigned):  # reversed: the first record of a synced student wins
        free_a[a_index[m.archived_id]] = False
        free_b[b_index[m.synced_id]] = False
        owner[b_index[m.synced_id]] = a_index[m.archived_id]
    ia, ib = leftover_pairs(families, ea, eb, free_a, free_b, settings.grade_progression)
    nb = np.int64(max(len(eb), 1))
    codes = scored.archived * nb + scored.synced
    position = {int(c): k for k, c in enumerate(codes.tolist())}
    out = [
        _review_merge(
            scored, position[c], a_students, b_students, hashes, reasons=[_LEFTOVER_REASON]
        )
        for c in (ia * nb + ib).tolist()
        if c in position
    ]
    free_a[ia] = False
    ia, ib, first = second_records(families, ea, eb, free_a, owner, settings.grade_progression)
    for a, s, f in zip(ia.tolist(), ib.tolist(), first.tolist(), strict=True):
        k = position.get(a * int(nb) + s)
        if k is None or b_students[s].id in contested:
            continue
        contested.add(b_students[s].id)
        first_id = a_students[f].id
        out.append(
            _review_merge(
                scored,
                k,
                a_students,
                b_students,
                hashes,
                reasons=[
                    f"possible duplicate of archived {first_id}: the only child of this "
                    f"class in the family is taken by archived {first_id}; the same child "
                    "typed twice (another given name, a slip) or a twin who left: approve "
                    "only if it is the same child"
                ],
                competitors=[
                    Competitor(
                        first_id,
                        b_students[s].id,
                        float(scored.scores.probability[position.get(f * int(nb) + s, k)]),
                    )
                ],
                duplicates=[first_id],
            )
        )
    return out


def _evidence_value(
    cache: dict[tuple[str, str, float], FieldEvidence], comparison: str, level: str, bits: float
) -> FieldEvidence:
    """Evidence values are immutable and repeat a lot: share one object per distinct value."""
    key = (comparison, level, round(bits, 3))
    found = cache.get(key)
    if found is None:
        found = cache[key] = FieldEvidence(comparison, level, bits)
    return found


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
) -> list[Merge]:
    """One merge per archived record whose group was assigned a synced student."""
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
    reasons: list[list[str]] = [[] for _ in range(len(archived))]

    def flag(mask: npt.NDArray[np.bool_], text: str) -> None:
        for i in np.flatnonzero(mask).tolist():
            reasons[i].append(text)

    p = prob[k_all]
    flag(
        p < settings.review_threshold,
        "own evidence weak; proposed as a duplicate of another archived record",
    )
    flag(
        (p >= settings.review_threshold) & (p < settings.auto_threshold),
        "confidence below the auto-merge threshold",
    )
    for i in np.flatnonzero(margin < settings.margin_bits).tolist():
        reasons[i].append(f"a competing candidate is within {max(float(margin[i]), 0.0):.1f} bits")
    renamed = np.ones(len(lv), np.bool_)
    for j, good in _RENAMED_IN_HOUSEHOLD:
        renamed &= np.isin(lv[:, j], good)
    only_child = np.zeros(len(lv), np.bool_)
    if families is not None and families.alone_archived is not None:
        assert families.alone_synced is not None
        only_child = (
            families.same(archived, target)
            & families.alone_archived[archived]
            & families.alone_synced[target]
        )
        for j, good in _ONLY_CHILD_OF_CLASS:
            only_child &= np.isin(lv[:, j], good)
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
        anchored = np.zeros(len(lv), np.bool_)
        for j, good in _ANCHORS:
            anchored |= np.isin(lv[:, j], good)
        typo_date = np.ones(len(lv), np.bool_)
        for j, good in _TYPO_DATE_ANCHOR:
            typo_date &= np.isin(lv[:, j], good)
        anchored |= typo_date
        by_name = np.ones(len(lv), np.bool_)
        for j, good in _GUARDIAN_NAME_ANCHOR:
            by_name &= np.isin(lv[:, j], good)
        anchored |= by_name
        family = (
            families.same(archived, target) if families is not None else np.zeros(len(lv), np.bool_)
        )
        by_family = family & ~anchored
        if families is not None and families.alike_archived is not None:
            assert families.alike_synced is not None
            alike = families.alike_archived[archived] | families.alike_synced[target]
            own = np.zeros(len(lv), np.bool_)
            for j, good in _OWN_EVIDENCE:
                own |= np.isin(lv[:, j], good)
            flag(
                alike & ~own,
                "the family has twins of one gender with similar given names, and no middle "
                "name or identifier tells which one this is",
            )
        anchored |= family
        namesakes = expected_namesakes(ea, eb, archived, target, freqs)
        rare = namesakes <= settings.max_expected_namesakes
        for j, good in _RARE_NAME_PAIR:
            rare &= np.isin(lv[:, j], good)
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

    rival_k1 = result.best_pair(g_of, result.rival_synced[g_of], len(eb))
    rival_k2 = result.best_pair(result.rival_group[g_of], target, len(eb))
    members: dict[int, list[int]] = {}
    for idx, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(idx)
    comparisons = scored.levels.comparisons
    level_names = [c.levels for c in comparisons]
    contrib = scored.scores.contributions[k_all]
    adjustment = scored.scores.adjustment[k_all]

    merges: list[Merge] = []
    cache: dict[tuple[str, str, float], FieldEvidence] = {}
    for i, (a, s, k) in enumerate(
        zip(archived.tolist(), target.tolist(), k_all.tolist(), strict=True)
    ):
        if weak[i]:
            continue
        evidence = [
            _evidence_value(cache, c.name, level_names[j][lv[i, j]], float(contrib[i, j]))
            for j, c in enumerate(comparisons)
        ]
        if adjustment[i] < 0:
            evidence.append(
                FieldEvidence("given_name_conflict_cap", "applied", float(adjustment[i]))
            )
        if settings.household_rules and not anchored[i]:
            evidence.append(_namesake_evidence(float(namesakes[i])))
        elif settings.household_rules and by_family[i]:
            evidence.append(_FAMILY_EVIDENCE)
        competitors = [
            Competitor(
                a_students[int(scored.archived[kk])].id,
                b_students[int(scored.synced[kk])].id,
                float(prob[kk]),
            )
            for kk in (int(rival_k1[i]), int(rival_k2[i]))
            if kk != NONE
        ]
        m_i = float(margin[i])
        merges.append(
            Merge(
                archived_id=a_students[a].id,
                synced_id=b_students[s].id,
                confidence=float(p[i]),
                decision="review" if reasons[i] else "auto",
                match_weight=float(scored.scores.log_odds[k]),
                margin_bits=m_i if np.isfinite(m_i) else None,
                evidence=evidence,
                reasons=reasons[i],
                competitors=competitors,
                duplicates=[a_students[m].id for m in members[int(g_of[i])] if m != a],
                archived_hash=hashes.archived[a],
                synced_hash=hashes.synced[s],
                synced_guardians=hashes.synced_guardians[s],
            )
        )
    return merges
