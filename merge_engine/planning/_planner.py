"""Building a merge plan from an archived and a synced roster.

The pipeline: encode both rosters as arrays, generate candidate pairs,
compare them field by field, learn the model (u from random pairs, m by
EM), score, group archived duplicates, solve the global assignment and
turn each assigned pair into an ``auto`` or ``review`` merge with its
evidence. Planning never writes anything.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from .._digest import sha256_for
from .._gc import gc_paused
from .._log import get_logger
from .._plan_codec import PlanStream
from .._record_hash import guardian_ids, record_hashes, student_hash, student_hashes
from ..accounts._guardian_actions import Assigned
from ..accounts._guardians import _plan_guardians
from ..accounts._roles import _find_roles
from ..exceptions import InputError
from ..matching._assignment import assign
from ..matching._blocking import (
    DUPLICATE_ONLY_RULES,
    FALLBACK_RULES,
    BlockingStats,
    generate_candidates,
)
from ..matching._duplicates import archived_groups, rival_pairs
from ..matching._features import GRADE_MISSING, EncodedSide, Vocabularies, encode_students
from ..matching._fellegi_sunter import estimate_model
from ..matching._households import (
    Families,
    alike_twins,
    alone_in_class,
    find_families,
)
from ..matching._scoring import (
    RANDOM_CHUNK_PAIRS,
    ScoredPairs,
    compare,
    count_levels,
    name_frequencies,
    score,
)
from ..model import Roster, Student
from ..plan import Merge, MergePlan
from ..settings import Settings
from ._decided import IdIndex
from ._pairs import (
    _concat,
    _Hashes,
    _pair_codes,
    _with_group_pairs,
    _with_partner_pairs,
    _without_pairs,
)
from ._plan_merges import PlanMerges
from ._proposals import _SAME_GIVEN_NAME, _contested_duplicates, _family_leftovers, _typed_twice
from ._rules import _merges
from ._sample import random_pair_count, random_pairs

__all__ = ["build_plan", "guardian_ids", "record_hashes", "stream_plan", "student_hash"]

log = get_logger(__name__)
I64 = npt.NDArray[np.int64]


def _roster_fingerprint(
    students: Sequence[Student],
    hashes: Sequence[str],
    guardians: Sequence[tuple[str, ...]] | None = None,
) -> str:
    """A digest of every record's id and hash (and, when given, its guardian account ids)."""
    digest = sha256_for(len(students))(b"")
    for i, (student, h) in enumerate(zip(students, hashes, strict=True)):
        extra = "\x1f".join(guardians[i]) if guardians is not None else ""
        digest.update(f"{student.id}\x1e{h}\x1e{extra}\x1d".encode())
    return digest.hexdigest()


#: Random pairs compared at once per record of the larger roster (at most
#: ``RANDOM_CHUNK_PAIRS``): a small district's chunk temporaries (about 300 bytes a pair)
#: stay small beside its records (9 MB of 65 at 2,000 students with full chunks).
RANDOM_CHUNK_PER_RECORD = 4


def _families(
    ea: EncodedSide, eb: EncodedSide, vocab: Vocabularies, settings: Settings
) -> Families | None:
    if not settings.household_rules or settings.household_max_children == 0:
        return None
    families = find_families(
        ea,
        eb,
        len(vocab.contacts),
        settings.household_max_children,
        settings.household_max_family_size,
    )
    alike_archived, mixed_archived = alike_twins(families.archived, ea, vocab, settings)
    alike_synced, mixed_synced = alike_twins(families.synced, eb, vocab, settings)
    return attrs.evolve(
        families,
        alike_archived=alike_archived,
        alike_synced=alike_synced,
        mixed_archived=mixed_archived,
        mixed_synced=mixed_synced,
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
        plan = _build_plan(archived, synced, settings or Settings(), progress, rejected)
    assert plan is not None
    return plan


def stream_plan(
    stream: PlanStream,
    archived: Roster,
    synced: Roster,
    settings: Settings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    rejected: Collection[tuple[str, str]] = (),
) -> None:
    """:func:`build_plan`, written to ``stream`` as it is produced instead of returned.

    The same bytes as ``build_plan(...).write(path)``, but the merges are
    encoded as soon as they are decided and dropped before the account steps
    are planned, so the whole plan is never held. On an error the caller
    aborts ``stream`` (nothing is left at its path).
    """
    with gc_paused():
        _build_plan(archived, synced, settings or Settings(), progress, rejected, stream)


def _ids_once(students: Sequence[Student], side: str) -> None:
    """Refuse a roster that holds a student id twice (sorted by id): both records would be
    planned, and applied, as one child. The readers refuse such files; a roster built in
    code gets the same refusal."""
    ids = [s.id for s in students]
    for at in itertools.compress(range(1, len(ids)), map(operator.eq, ids[1:], ids[:-1])):
        raise InputError(
            f"the {side} roster holds student id {ids[at]!r} twice: ids must be unique; "
            "merge or renumber the two records before planning"
        )


def _build_plan(
    archived: Roster,
    synced: Roster,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
    rejected: Collection[tuple[str, str]] = (),
    stream: PlanStream | None = None,
) -> MergePlan | None:
    timer = _Timer(progress)
    a_students = sorted(archived.students, key=lambda s: s.id)
    b_students = sorted(synced.students, key=lambda s: s.id)
    _ids_once(a_students, "archived")
    _ids_once(b_students, "synced")
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
    vocab = vocab.sealed()
    timer.lap("encode")

    primary = [r for r in settings.blocking_rules if r not in FALLBACK_RULES | DUPLICATE_ONLY_RULES]
    cands = generate_candidates(
        ea, eb, vocab.names, rules=primary, max_block_pairs=settings.max_block_pairs
    )
    timer.lap("blocking")
    levels = compare(ea, eb, cands.archived, cands.synced, vocab, settings)
    timer.lap("compare")

    chunk = min(RANDOM_CHUNK_PAIRS, RANDOM_CHUNK_PER_RECORD * max(len(ea), len(eb), 1))
    n_random = random_pair_count(len(ea), len(eb), settings.random_pairs)
    ra, rb = random_pairs(len(ea), len(eb), n_random, settings.seed, chunk)
    random_counts = count_levels(ea, eb, ra, rb, vocab, settings, chunk_pairs=chunk)
    del ra, rb
    model = estimate_model(
        levels,
        random_counts,
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
    rule_stats = list(cands.stats)
    # ``scored`` holds these arrays now; each join below makes new ones, so names kept
    # here would hold a second copy of every pair (gigabytes at a million students).
    del cands, levels
    timer.lap("score")

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
            grade_progression=settings.grade_progression,
        )
        rule_stats += more.stats
        more_levels = compare(ea, eb, more.archived, more.synced, vocab, settings)
        added = score(ea, eb, more.archived, more.synced, more_levels, model, freqs)
        del more, more_levels, best
        scored = _concat(scored, added)
        del added
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
            added = score(ea, eb, fa, fb, family_levels, model, freqs)
            del fa, fb, family_levels
            scored = _concat(scored, added)
            del added
    timer.lap("households")

    rivals = rival_pairs(
        scored.archived, scored.synced, scored.scores.probability >= settings.review_threshold
    )
    groups, possible_duplicates, dedupe_pairs = archived_groups(
        ea, vocab, model, freqs, settings, rivals
    )
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
        student_hashes(a_students),
        student_hashes(b_students, contacts=False),
        list(map(guardian_ids, b_students)),
    )
    decided = _merges(
        scored,
        groups,
        result,
        ea,
        eb,
        a_students,
        b_students,
        settings,
        hashes,
        freqs,
        families,
        possible_duplicates,
        vocab.names.values,
    )
    # Record indices by id, for the steps that read the merges (ids only) back.
    a_index, b_index = IdIndex(decided.a_ids), IdIndex(decided.b_ids)
    open_a, own = decided.open_records(groups, _same_given_name(scored))
    scored = _with_partner_pairs(
        scored, groups, result, possible_duplicates, open_a, ea, eb, vocab, model, freqs, settings
    )
    contested = _contested_duplicates(
        scored,
        groups,
        result,
        possible_duplicates,
        open_a,
        own,
        families.alike_synced if families is not None else None,
        a_students,
        b_students,
        settings,
        hashes,
    )
    # A record proposed with its possible duplicate's student leaves its own review merge.
    replaced = [a_index[m.archived_id] for m in contested]
    decided = decided.without(~np.isin(decided.archived, replaced))
    if families is not None:
        contested += _family_leftovers(
            scored,
            families,
            (decided.archived, decided.target),
            contested,
            ea,
            eb,
            a_students,
            b_students,
            settings,
            hashes,
            a_index,
            b_index,
        )
    contested = _typed_twice(contested, families, a_index, b_index, settings.auto_threshold)
    # The link is mutual: the winner's merge names the record contesting it.
    contesting: dict[int, list[str]] = {}
    for merge in contested:
        for winner in merge.duplicates:
            contesting.setdefault(a_index[winner], []).append(merge.archived_id)
    decided = decided.with_duplicates(contesting)
    if len(refused):
        width = max(len(eb), 1)
        decided = decided.without(~np.isin(decided.archived * width + decided.target, refused))
        gone = {(a_students[c // width].id, b_students[c % width].id) for c in refused.tolist()}
        contested = [m for m in contested if (m.archived_id, m.synced_id) not in gone]
    merges = PlanMerges(decided, contested, a_index, b_index)
    del a_index, b_index, decided
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
    # Nothing after this reads the matching's arrays: they go before the accounts are
    # planned (the account steps read the rosters and the merges only).
    n_pairs = len(scored)
    del ea, eb, vocab, scored, families, groups, result, contested, contesting
    n_merges = len(merges)
    unmatched_archived, unmatched_synced = merges.unmatched()
    plan_merges: list[Merge] = []
    if stream is not None:
        stream.head(
            _fingerprint(archived, synced, a_students, b_students, hashes),
            settings.to_dict(),
            model.to_dict(),
            stats,
        )
        stream.encoded_merges(merges)
        # Written: only the ids and decisions stay for the account steps.
        assigned: Sequence[Assigned] = merges.assigned()
    else:
        with gc_paused():
            assigned = plan_merges = list(merges)
    del merges
    adults = _adults(archived, synced, assigned, settings)
    del assigned
    timer.lap("guardians")
    log.info(
        "plan_built",
        archived=len(a_students),
        synced=len(b_students),
        pairs=n_pairs,
        merges=n_merges,
        seconds=timer.laps,
    )
    if stream is not None:
        stream.accounts(
            adults["guardian_merges"],
            adults["guardian_actions"],
            adults["role_links"],
            adults["guardian_folds"],
        )
        stream.close(unmatched_archived, unmatched_synced, warnings)
        return None
    return MergePlan(
        merges=plan_merges,
        unmatched_archived=unmatched_archived,
        unmatched_synced=unmatched_synced,
        warnings=warnings,
        settings=settings.to_dict(),
        model=model.to_dict(),
        stats=stats,
        fingerprint=_fingerprint(archived, synced, a_students, b_students, hashes),
        **adults,
    )


def _fingerprint(
    archived: Roster,
    synced: Roster,
    a_students: Sequence[Student],
    b_students: Sequence[Student],
    hashes: _Hashes,
) -> dict[str, str]:
    return {
        "archived": _roster_fingerprint(a_students, hashes.archived),
        "synced": _roster_fingerprint(b_students, hashes.synced, hashes.synced_guardians),
        "archived_source_format": archived.format,
        "synced_source_format": synced.format,
    }


def _same_given_name(scored: ScoredPairs) -> list[int]:
    """The given-name levels (codes) that name the same child outright."""
    comparison = next(c for c in scored.levels.comparisons if c.name == "first_name")
    return [comparison.levels.index(x) for x in _SAME_GIVEN_NAME]


def _adults(
    archived: Roster, synced: Roster, merges: Sequence[Assigned], settings: Settings
) -> dict[str, Any]:
    """Guardian merges, old-guardian actions and multiple-role users for the plan."""
    guardian_merges, folds, actions, synced_accounts = _plan_guardians(
        archived, synced, merges, settings
    )
    role_action: Literal["keep_apart", "link", "merge"] = {
        "separate": "keep_apart",
        "link": "link",
        "merge": "merge",
    }[settings.multiple_role_policy]  # type: ignore[assignment]
    links = [
        attrs.evolve(link, action=role_action if link.verdict == "same_person" else "review")
        for link in _find_roles(synced, synced_accounts)
    ]
    return {
        "guardian_merges": guardian_merges,
        "guardian_folds": folds,
        "guardian_actions": actions,
        "role_links": links,
    }


def _observed_progression(ea: EncodedSide, eb: EncodedSide, scored: ScoredPairs) -> int | None:
    """The usual grade change among near-certain pairs, when it is clear."""

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
