"""Guardian accounts across a merge: which old account is which new one.

When an archived student is merged into its synced twin, the archived
student's guardian accounts (old logins, message history) and the synced
student's contacts (accounts the sync created) often describe the same
adults. Pairs are compared only within merged students (siblings share
accounts, so a pair seen on several merged siblings is decided once), by
normalised email and phone, given name (nicknames and typos), surname,
SIS id and relationship.

Two different adults of one household share a surname and often a phone
or an email: a shared contact detail alone never merges accounts, the
given names must agree too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from attrs import field, frozen

from .assignment import NONE, assign
from .evidence import FieldEvidence, probability
from .model import Roster
from .normalize import (
    nickname_index,
    normalize_email,
    normalize_identifier,
    normalize_name,
    normalize_phone,
)

if TYPE_CHECKING:
    from .plan import Merge

__all__ = [
    "GUARDIAN_COMPARISONS",
    "GuardianAccount",
    "GuardianAction",
    "GuardianMerge",
    "guardian_accounts",
    "match_guardians",
]

GUARDIAN_COMPARISONS: Mapping[str, tuple[str, ...]] = {
    "first_name": ("missing", "exact", "nickname", "close", "initial", "different"),
    "last_name": ("missing", "exact", "compound", "close", "different"),
    "email": ("missing", "exact", "different"),
    "phone": ("missing", "exact", "different"),
    "sis_id": ("missing", "exact", "different"),
    "relationship": ("missing", "same", "compatible", "conflicting"),
}
"""Levels of each guardian comparison, best first (``missing`` when either side lacks it)."""

# Bits per level: log2(m/u), from how often the same adult (m) and two
# different adults met on one merged child (u) show each level. Fixed and
# documented rather than learnt: a district has too few guardian pairs per
# child for EM, and the decisive rule (names must agree) is not statistical.
_BITS: Mapping[str, tuple[float, ...]] = {
    "first_name": (0.0, 7.0, 5.0, 2.0, -1.0, -8.0),
    "last_name": (0.0, 2.5, 1.5, 0.5, -3.0),
    "email": (0.0, 6.0, -0.5),
    "phone": (0.0, 4.0, -0.5),
    "sis_id": (0.0, 8.0, -6.0),
    "relationship": (0.0, 1.0, 0.0, -4.0),
}
_PRIOR_BITS = -2.0  # about one in five guardian pairs on a merged child is the same adult
_ANCHORS = ("email", "phone", "sis_id")
_RELATION_GROUPS = {
    "mother": "f", "mom": "f", "stepmother": "f", "grandmother": "f", "aunt": "f",
    "father": "m", "dad": "m", "stepfather": "m", "grandfather": "m", "uncle": "m",
}  # fmt: skip
_GENERATION = {"grandmother": "g", "grandfather": "g", "grandparent": "g"}

Decision = Literal["auto", "review"]


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


ActionKind = Literal["keep", "flag", "detach", "review"]


@frozen
class GuardianAccount:
    """One guardian account as seen on one side, gathered from all its contact rows."""

    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    sis_id: str
    relationships: tuple[str, ...]
    student_ids: tuple[str, ...]


@frozen
class GuardianMerge:
    """Merge the sync-created account into the old one (the guardian keeps the old login)."""

    archived_guardian_id: str
    synced_guardian_id: str
    confidence: float = field(converter=probability)
    decision: Decision
    evidence: tuple[FieldEvidence, ...] = field(converter=_tuple)
    reasons: tuple[str, ...] = field(default=(), converter=_tuple)
    students: tuple[tuple[str, str], ...] = field(default=(), converter=_tuple)

    def to_dict(self) -> dict[str, object]:
        return {
            "archived_guardian_id": self.archived_guardian_id,
            "synced_guardian_id": self.synced_guardian_id,
            "confidence": self.confidence,
            "decision": self.decision,
            "evidence": [e.to_dict() for e in self.evidence],
            "reasons": list(self.reasons),
            "students": [list(pair) for pair in self.students],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardianMerge:
        return cls(
            archived_guardian_id=str(data["archived_guardian_id"]),
            synced_guardian_id=str(data["synced_guardian_id"]),
            confidence=float(data["confidence"]),
            decision="auto" if data["decision"] == "auto" else "review",
            evidence=[FieldEvidence.from_dict(e) for e in data.get("evidence", [])],
            reasons=[str(r) for r in data.get("reasons", [])],
            students=[(str(a), str(b)) for a, b in data.get("students", [])],
        )


@frozen
class GuardianAction:
    """What happens to an old guardian link of a merged student under the district's policy."""

    action: ActionKind
    guardian_id: str
    student_id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "guardian_id": self.guardian_id,
            "student_id": self.student_id,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardianAction:
        action = str(data["action"])
        if action not in ("keep", "flag", "detach", "review"):
            raise ValueError(f"unknown guardian action {action!r}")
        return cls(action, str(data["guardian_id"]), str(data["student_id"]), str(data["reason"]))  # type: ignore[arg-type]


def guardian_accounts(roster: Roster) -> dict[str, GuardianAccount]:
    """Guardian accounts of a roster, keyed by id; the first non-empty value of each field wins."""
    # gid -> [first, last, email, phone, sis, relationships, student ids]
    found: dict[str, list[Any]] = {}
    for student in roster.students:
        sid = student.id
        for c in student.contacts:
            row = found.get(c.guardian_id)
            if row is None:
                found[c.guardian_id] = [
                    c.first_name, c.last_name, c.email, c.phone, c.sis_id,
                    {c.relationship} if c.relationship else set(), [sid],
                ]  # fmt: skip
                continue
            if not (row[0] and row[1] and row[2] and row[3] and row[4]):
                for i, value in enumerate((c.first_name, c.last_name, c.email, c.phone, c.sis_id)):
                    if value and not row[i]:
                        row[i] = value
            if c.relationship:
                row[5].add(c.relationship)
            row[6].append(sid)
    accounts = {}
    for gid in sorted(found):
        first, last, email, phone, sis, relations, students = found[gid]
        accounts[gid] = GuardianAccount(
            id=gid,
            first_name=normalize_name(first),
            last_name=normalize_name(last),
            email=normalize_email(email),
            phone=normalize_phone(phone),
            sis_id=normalize_identifier(sis),
            relationships=tuple(sorted({r.strip().lower() for r in relations} - {""})),
            student_ids=tuple(sorted(set(students))),
        )
    return accounts


def _first_level(a: str, b: str) -> str:
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    ta, tb = a.split(maxsplit=1)[0], b.split(maxsplit=1)[0]
    if nickname_index().equivalent(ta, tb) or (ta == tb and (a == ta or b == tb)):
        return "nickname"
    if len(ta) == 1 or len(tb) == 1:
        return "initial" if ta[0] == tb[0] else "different"
    from rapidfuzz.distance import JaroWinkler  # noqa: PLC0415

    return "close" if JaroWinkler.normalized_similarity(a, b) >= 0.92 else "different"


def _last_level(a: str, b: str) -> str:
    if not a or not b:
        return "missing"
    if a.replace(" ", "") == b.replace(" ", ""):
        return "exact"
    if set(a.split()) & set(b.split()):
        return "compound"
    from rapidfuzz.distance import JaroWinkler  # noqa: PLC0415

    return "close" if JaroWinkler.normalized_similarity(a, b) >= 0.92 else "different"


def _equal_level(a: str, b: str) -> str:
    if not a or not b:
        return "missing"
    return "exact" if a == b else "different"


def _relationship_level(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    if not a or not b:
        return "missing"
    if set(a) & set(b):
        return "same"
    sex_a = {_RELATION_GROUPS[r] for r in a if r in _RELATION_GROUPS}
    sex_b = {_RELATION_GROUPS[r] for r in b if r in _RELATION_GROUPS}
    gen_a = {r in _GENERATION for r in a}
    gen_b = {r in _GENERATION for r in b}
    if (sex_a and sex_b and not sex_a & sex_b) or (
        gen_a != gen_b and len(gen_a) == len(gen_b) == 1
    ):
        return "conflicting"
    return "compatible"


def compare_guardians(a: GuardianAccount, b: GuardianAccount) -> dict[str, str]:
    """The level of every guardian comparison for one pair of accounts."""
    return {
        "first_name": _first_level(a.first_name, b.first_name),
        "last_name": _last_level(a.last_name, b.last_name),
        "email": _equal_level(a.email, b.email),
        "phone": _equal_level(a.phone, b.phone),
        "sis_id": _equal_level(a.sis_id, b.sis_id),
        "relationship": _relationship_level(a.relationships, b.relationships),
    }


_LEVEL_BITS = {
    name: dict(zip(levels, _BITS[name], strict=True))
    for name, levels in GUARDIAN_COMPARISONS.items()
}


def _score(levels: Mapping[str, str]) -> float:
    return _PRIOR_BITS + sum(_LEVEL_BITS[name][level] for name, level in levels.items())


@functools.lru_cache(maxsize=4096)
def _evidence_of(levels: tuple[tuple[str, str], ...]) -> tuple[FieldEvidence, ...]:
    return tuple(FieldEvidence(name, level, _LEVEL_BITS[name][level]) for name, level in levels)


def _evidence(levels: Mapping[str, str]) -> list[FieldEvidence]:
    """Evidence depends on the levels alone: one shared tuple per distinct combination."""
    return list(_evidence_of(tuple(levels.items())))


def _reasons(
    levels: Mapping[str, str],
    confidence: float,
    margin: float,
    auto_threshold: float,
    same_role: bool = False,
) -> list[str]:
    reasons = []
    anchored = any(levels[a] == "exact" for a in _ANCHORS)
    # Paul/Paula, Daniel/Danielle: a "typo" between spouses sharing a household
    # email is a different adult. A close given name is accepted only with a
    # matching SIS id or the same gendered relationship (both "mother").
    typo_ok = levels["first_name"] == "close" and (levels["sis_id"] == "exact" or same_role)
    if levels["first_name"] not in ("exact", "nickname") and not typo_ok:
        reasons.append(f"given names are {levels['first_name']}")
    if levels["last_name"] == "different":
        reasons.append("surnames differ")
    if not anchored and not (
        levels["first_name"] == "exact"
        and levels["last_name"] == "exact"
        and levels["relationship"] != "conflicting"
        and not (levels["email"] == "different" and levels["phone"] == "different")
    ):
        # Without a shared contact detail, only the full name on the same
        # child's guardian list identifies the adult, and only when their
        # contact details do not all disagree.
        reasons.append("no shared email, phone or SIS id")
    if levels["relationship"] == "conflicting":
        reasons.append("relationships conflict (for example mother and father)")
    if levels["sis_id"] == "different":
        reasons.append("SIS ids differ")
    if confidence < auto_threshold:
        reasons.append("confidence below the auto-merge threshold")
    if margin < _MARGIN_BITS:
        reasons.append("another account is nearly as likely")
    return reasons


_MARGIN_BITS = 4.0


def match_guardians(
    archived: Roster,
    synced: Roster,
    merges: Sequence[Merge],
    *,
    auto_threshold: float = 0.99,
    review_threshold: float = 0.3,
    accounts: tuple[Mapping[str, GuardianAccount], Mapping[str, GuardianAccount]] | None = None,
) -> list[GuardianMerge]:
    """Pair old guardian accounts with the accounts the sync created, across merged students.

    Read-only and deterministic. Each old account goes to at most one new
    account and the other way round; a pair needs agreeing given names to
    be merged automatically.
    """
    old, new = accounts or (guardian_accounts(archived), guardian_accounts(synced))
    old_of: dict[str, list[str]] = {}
    for gid, account in old.items():
        for sid in account.student_ids:
            old_of.setdefault(sid, []).append(gid)
    new_of: dict[str, list[str]] = {}
    for gid, account in new.items():
        for sid in account.student_ids:
            new_of.setdefault(sid, []).append(gid)

    seen: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for merge in merges:
        for ga in old_of.get(merge.archived_id, ()):
            for gs in new_of.get(merge.synced_id, ()):
                seen.setdefault((ga, gs), []).append((merge.archived_id, merge.synced_id))
    pairs = sorted(seen)
    if not pairs:
        return []
    old_ids = sorted({a for a, _ in pairs})
    new_ids = sorted({s for _, s in pairs})
    o_index = {g: i for i, g in enumerate(old_ids)}
    n_index = {g: i for i, g in enumerate(new_ids)}
    scored = []
    for ga, gs in pairs:
        levels = compare_guardians(old[ga], new[gs])
        bits = _score(levels)
        capped = 0.0
        if levels["first_name"] == "different" and bits > _logit(0.05):
            # Two adults of one household share contacts; a different given name wins.
            capped = _logit(0.05) - bits
            bits = _logit(0.05)
        scored.append((ga, gs, levels, bits, capped))
    weights = np.array([s[3] for s in scored])
    result = assign(
        np.array([o_index[s[0]] for s in scored], np.int64),
        np.array([n_index[s[1]] for s in scored], np.int64),
        weights,
        n_groups=len(old_ids),
        n_synced=len(new_ids),
        floor_bits=_logit(review_threshold),
    )
    out = []
    for ga, gs, levels, bits, capped in scored:
        g = o_index[ga]
        if result.synced[g] == NONE or new_ids[int(result.synced[g])] != gs:
            continue
        evidence = _evidence(levels)
        if capped:
            evidence.append(FieldEvidence("household_cap", "applied", capped))
        confidence = float(1.0 / (1.0 + 2.0 ** (-bits)))
        roles = set(old[ga].relationships) & set(new[gs].relationships)
        same_role = any(r in _RELATION_GROUPS for r in roles)
        reasons = _reasons(levels, confidence, float(result.margin[g]), auto_threshold, same_role)
        out.append(
            GuardianMerge(
                archived_guardian_id=ga,
                synced_guardian_id=gs,
                confidence=confidence,
                decision="review" if reasons else "auto",
                evidence=evidence,
                reasons=reasons,
                students=sorted(set(seen[(ga, gs)])),
            )
        )
    return out


def _logit(p: float) -> float:
    return float(np.log2(p / (1.0 - p)))


def guardian_actions(
    archived: Roster,
    merges: Sequence[Merge],
    guardian_merges: Sequence[GuardianMerge],
    *,
    policy: Literal["keep_old", "remove_old"] = "keep_old",
    unmatched: Literal["keep", "remove", "review"] = "keep",
    accounts: Mapping[str, GuardianAccount] | None = None,
) -> list[GuardianAction]:
    """What to do with each old guardian link of each merged student, by the district's policy."""
    matched = {m.archived_guardian_id for m in guardian_merges}
    accounts = accounts if accounts is not None else guardian_accounts(archived)
    merged_students = {m.archived_id for m in merges}
    actions = []
    for gid, account in accounts.items():
        for sid in account.student_ids:
            if sid not in merged_students:
                continue
            if policy == "remove_old":
                actions.append(GuardianAction("detach", gid, sid, "district removes old guardians"))
            elif gid in matched:
                continue  # handled by the guardian merge
            elif unmatched == "remove":
                actions.append(
                    GuardianAction("detach", gid, sid, "no counterpart among synced contacts")
                )
            elif unmatched == "review":
                actions.append(
                    GuardianAction("review", gid, sid, "no counterpart among synced contacts")
                )
            else:
                actions.append(
                    GuardianAction("flag", gid, sid, "kept; no counterpart among synced contacts")
                )
    return actions
