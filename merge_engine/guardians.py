"""Guardian accounts across a merge: which old account is which new one.

When an archived student is merged into its synced twin, the archived
student's guardian accounts (old logins, message history) and the synced
student's contacts (accounts the sync created) often describe the same
adults. Pairs are compared only within merged students (siblings share
accounts, so a pair seen on several merged siblings is decided once), by
normalised email (forgiving the slips of a hand-typed address) and phone
(placeholder numbers count as missing), given name (nicknames and typos),
surname, SIS id and relationship, then assigned one to one.

Two different adults of one household share a surname and often a phone
or an email: a shared contact detail alone never merges accounts, the
given names must agree too. A merge is automatic only when the adult is
identified: the given names agree (the same, a nickname, or a typo inside
the name, never a different ending such as Paul and Paula) and a contact
detail is shared, or, without one, the full name is on the same child's
list and nothing contradicts it; ties and near-ties go to review.

Planning works on columns (:class:`_Columns`): a district has hundreds of
thousands of accounts, so values are compared once per distinct pair of
values with numpy, not once per pair of accounts.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from attrs import field, frozen

from ._guardian_columns import (
    GuardianAccount,
    _Coded,
    _Columns,
    _email_level,
    _phone_key,
)
from .assignment import NONE, assign
from .evidence import FieldEvidence, probability
from .model import Roster
from .normalize import (
    nickname_index,
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
# Prior: an old account met with n accounts of the sync on merged children
# (or a sync account met with n old ones) is the same adult as one of them at
# most, and most old guardians of a returning child are still listed, so a
# pair is the same adult with probability about _PRESENT / n (one guardian on
# each side: 4 in 5, +2 bits; two: 2 in 5, -0.6 bits; four: 1 in 5, -2 bits).
_PRESENT = 0.8
_ANCHORS = ("email", "phone", "sis_id")
_RELATION_GROUPS = {
    "mother": "f", "mom": "f", "stepmother": "f", "grandmother": "f", "aunt": "f",
    "father": "m", "dad": "m", "stepfather": "m", "grandfather": "m", "uncle": "m",
}  # fmt: skip
_GENERATION = {"grandmother": "g", "grandfather": "g", "grandparent": "g"}

Decision = Literal["auto", "review"]
I64 = npt.NDArray[np.int64]


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


ActionKind = Literal["keep", "flag", "detach", "review"]


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
    return _Columns.from_roster(roster).accounts()


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
    return "close" if _jaro_winkler()(a, b) >= 0.92 else "different"


def _last_level(a: str, b: str) -> str:
    if not a or not b:
        return "missing"
    if a.replace(" ", "") == b.replace(" ", ""):
        return "exact"
    if set(a.split()) & set(b.split()):
        return "compound"
    return "close" if _jaro_winkler()(a, b) >= 0.92 else "different"


@functools.cache
def _jaro_winkler() -> Callable[[str, str], float]:
    from rapidfuzz.distance import JaroWinkler  # noqa: PLC0415  (imported on first use)

    similarity: Callable[[str, str], float] = JaroWinkler.normalized_similarity
    return similarity


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
        "email": _email_level(a.email, b.email),
        "phone": _equal_level(_phone_key(a.phone), _phone_key(b.phone)),
        "sis_id": _equal_level(a.sis_id, b.sis_id),
        "relationship": _relationship_level(a.relationships, b.relationships),
    }


_LEVEL_BITS = {
    name: dict(zip(levels, _BITS[name], strict=True))
    for name, levels in GUARDIAN_COMPARISONS.items()
}


@functools.lru_cache(maxsize=4096)
def _evidence_of(levels: tuple[tuple[str, str], ...]) -> tuple[FieldEvidence, ...]:
    return tuple(FieldEvidence(name, level, _LEVEL_BITS[name][level]) for name, level in levels)


def _reasons(
    levels: Mapping[str, str],
    confidence: float,
    margin: float,
    auto_threshold: float,
    same_role: bool = False,
    typo: bool = False,
    surname_slip: bool = False,
    one_sex: bool = False,
) -> list[str]:
    """Why a pair cannot be merged automatically (none: it can).

    ``same_role``: both accounts name the same gendered relationship (both
    "mother"); ``typo``: the given names are one slip of the keyboard apart
    inside the name (see :func:`_typo`); ``surname_slip``: the surnames are
    one letter apart (see :func:`_slip`); ``one_sex``: both are the child's
    parents and known to be men or both women (see :func:`_one_sex`).
    """
    reasons = []
    anchored = any(levels[a] == "exact" for a in _ANCHORS)
    # Paul/Paula, Daniel/Danielle: a "typo" between spouses sharing a household
    # email is a different adult. A close given name is accepted only with a
    # matching SIS id, when both adults are known to be of one sex (both
    # "mother", say), or when it is a slip inside the name rather than a
    # different ending.
    typo_ok = levels["first_name"] == "close" and (
        levels["sis_id"] == "exact" or same_role or one_sex or typo
    )
    # An account typed without a name (a teacher noted a parent's contacts and role)
    # is the adult with the same email, phone and relationship: spouses may share a
    # family email and a home phone, not a role ("mother" and "father" conflict).
    unnamed_ok = (
        levels["first_name"] == "missing"
        and levels["email"] == "exact"
        and levels["phone"] == "exact"
        and levels["relationship"] == "same"
        and levels["last_name"] in ("missing", "exact", "compound")
        and (same_role or one_sex)
    )
    if levels["first_name"] not in ("exact", "nickname") and not (typo_ok or unnamed_ok):
        reasons.append(f"given names are {levels['first_name']}")
    if levels["last_name"] == "different" and not (
        levels["first_name"] == "exact"
        and (
            # A surname mistyped (Knight, Knught) on an account with the same
            # given name and a shared email or phone.
            (surname_slip and anchored)
            # A surname changed (marriage, divorce): the same given name,
            # email, phone and relationship.
            or (
                levels["email"] == "exact"
                and levels["phone"] == "exact"
                and levels["relationship"] == "same"
            )
        )
    ):
        reasons.append("surnames differ")
    # Without a shared contact detail, only the full name on the same child's
    # guardian list identifies the adult, and only when their contact details
    # do not all disagree or both adults are known to be of one sex with
    # agreeing relationships (a parent who changed phone and email). A
    # nickname (Bill, William) counts too, with agreeing relationships of one
    # sex: some nicknames are a man's and a woman's (Chris, Pat).
    contradicted = levels["email"] == "different" and levels["phone"] == "different"
    named = (
        levels["last_name"] == "exact"
        and levels["relationship"] != "conflicting"
        and (
            (levels["first_name"] == "exact" and (same_role or one_sex or not contradicted))
            or (levels["first_name"] == "nickname" and (same_role or one_sex) and not contradicted)
        )
    )
    if not anchored and not named:
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


def _slip(a: str, b: str) -> bool:
    """Whether two surnames (spaces ignored) are one letter changed, added, dropped or swapped."""
    a, b = a.replace(" ", ""), b.replace(" ", "")
    if a == b or not a or not b or abs(len(a) - len(b)) > 1:
        return False
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (
            i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
        )
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1 :] == shorter[i:]


def _typo(a: str, b: str) -> bool:
    """Whether two given names are one slip of the keyboard apart inside the name.

    One letter changed, added, dropped or swapped with its neighbour, not in
    the first letter nor the last two, in names of five letters or more.
    Two real names one letter apart differ at the end (Paul/Paula,
    Juan/Juana, Francis/Frances, Christian/Christina) or are short
    (Hung/Huong): those are two adults, not a typo.
    """
    if a == b or min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if i == 0:
        return False
    if len(a) == len(b):
        if a[i + 1 :] == b[i + 1 :]:  # one letter changed
            return len(a) - i - 1 >= 2
        swapped = a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
        return swapped and len(a) - i - 2 >= 2
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1 :] == shorter[i:] and len(shorter) - i >= 2


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
    if accounts is None:
        old, new = _Columns.from_roster(archived), _Columns.from_roster(synced)
    else:
        old, new = _Columns.from_accounts(accounts[0]), _Columns.from_accounts(accounts[1])
    return _match_columns(old, new, merges, auto_threshold, review_threshold)[0]


_LEVEL_INDEX = {
    name: {level: i for i, level in enumerate(levels)}
    for name, levels in GUARDIAN_COMPARISONS.items()
}
_BIT_ARRAYS = {name: np.array(values, np.float64) for name, values in _BITS.items()}
_COMPARE: tuple[tuple[str, str, Callable[[Any, Any], str] | None], ...] = (
    ("first_name", "first", _first_level),
    ("last_name", "last", _last_level),
    ("email", "email", _email_level),
    ("phone", "phone_key", None),
    ("sis_id", "sis", None),
    ("relationship", "relationships", _relationship_level),
)  # (comparison, column, level function or None for plain equality), in GUARDIAN_COMPARISONS order
_NAMES = tuple(GUARDIAN_COMPARISONS)
_RADIX = tuple(len(levels) for levels in GUARDIAN_COMPARISONS.values())


class _Pairs:
    """Pairs of accounts, as indices into the sides' columns (each side's distinct accounts)."""

    __slots__ = ("new_ix", "new_of", "old_ix", "old_of")

    def __init__(self, old_account: I64, new_account: I64) -> None:
        self.old_ix, old_of = np.unique(old_account, return_inverse=True)
        self.new_ix, new_of = np.unique(new_account, return_inverse=True)
        self.old_of = old_of.reshape(-1).astype(np.int64)
        self.new_of = new_of.reshape(-1).astype(np.int64)

    def codes(
        self, old: _Coded, new: _Coded, empty: Any, at: I64 | None = None
    ) -> tuple[I64, I64, list[Any], int]:
        """Both sides' codes of one column for every pair (or the pairs ``at``), in one space.

        The space is ``values``; also the code of ``empty`` (``-1`` when no account has it).
        """
        old_of, new_of = (
            (self.old_of, self.new_of) if at is None else (self.old_of[at], self.new_of[at])
        )
        in_old = _unify(old, new)
        co = old.codes[self.old_ix][old_of]
        cn = in_old[new.codes[self.new_ix]][new_of]
        empty_code = old.code_of(empty)
        if empty_code < 0 and new.code_of(empty) >= 0:
            empty_code = int(in_old[new.code_of(empty)])
        return co, cn, old.values + new.values, empty_code


def _unify(old: _Coded, new: _Coded) -> I64:
    """The code of each new value in the code space ``old.values + new.values``."""
    in_old = old.codes_of(new.values)
    unified: I64 = np.where(in_old >= 0, in_old, len(old.values) + np.arange(len(new.values)))
    return unified


def _holders(old: _Coded, new: _Coded) -> I64:
    """How many accounts of both sides hold each value, in the pairs' code space."""
    every = np.concatenate([old.codes, _unify(old, new)[new.codes]])
    return np.bincount(every, minlength=len(old.values) + len(new.values))


def _per_pair(co: I64, cn: I64, values: list[Any], function: Callable[[Any, Any], int]) -> I64:
    """``function(old value, new value)`` for every pair, called once per distinct pair."""
    width = len(values)
    distinct, inverse = np.unique(co * width + cn, return_inverse=True)
    table = [function(*map(values.__getitem__, divmod(k, width))) for k in distinct.tolist()]
    result: I64 = np.array(table, np.int64)[inverse.reshape(-1)]
    return result


def _email_levels(pairs: _Pairs, old: _Columns, new: _Columns) -> I64:
    """:func:`_email_level` for every pair: by code, and one by one for hand-typing slips."""
    index = _LEVEL_INDEX["email"]
    co, cn, values, empty = pairs.codes(old.coded("email"), new.coded("email"), "")
    levels: I64 = np.where(
        (co == empty) | (cn == empty),
        index["missing"],
        np.where(co == cn, index["exact"], index["different"]),
    ).astype(np.int64)
    plain = (
        old.plain_email()[pairs.old_ix][pairs.old_of]
        & new.plain_email()[pairs.new_ix][pairs.new_of]
    )
    odd = np.flatnonzero((levels == index["different"]) & ~plain)
    if len(odd):
        levels[odd] = _per_pair(
            co[odd], cn[odd], values, functools.partial(_level, _email_level, index)
        )
    return levels


def _as_int(test: Callable[[Any, Any], bool], a: Any, b: Any) -> int:
    return int(test(a, b))


def _level(level_of: Callable[[Any, Any], str], index: Mapping[str, int], a: Any, b: Any) -> int:
    return index[level_of(a, b)]


def _levels(pairs: _Pairs, old: _Columns, new: _Columns) -> dict[str, I64]:
    """The level index of every comparison for every pair."""
    levels = {}
    for name, column, level_of in _COMPARE:
        index = _LEVEL_INDEX[name]
        if name == "email":
            levels[name] = _email_levels(pairs, old, new)
            continue
        co, cn, values, empty = pairs.codes(old.coded(column), new.coded(column), "")
        if level_of is None:  # equal values are exact; "" is missing
            levels[name] = np.where(
                (co == empty) | (cn == empty),
                index["missing"],
                np.where(co == cn, index["exact"], index["different"]),
            ).astype(np.int64)
        else:
            levels[name] = _per_pair(co, cn, values, functools.partial(_level, level_of, index))
    return levels


_FACTS = ("same_role", "typo", "surname_slip", "one_sex")  # what _reasons needs beyond levels


def _facts(
    pairs: _Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64], at: I64
) -> dict[str, npt.NDArray[np.bool_]]:
    """The :data:`_FACTS` of the pairs ``at``, looked at only where a rule asks for them."""
    found = {}
    rules: tuple[tuple[str, str, str, str, Callable[[Any, Any], bool]], ...] = (
        ("same_role", "relationships", "relationship", "same", _same_role),
        ("typo", "first", "first_name", "close", _typo),
        ("surname_slip", "last", "last_name", "different", _slip),
    )
    for fact, column, name, level, test in rules:
        flag = np.zeros(len(at), np.bool_)
        where = np.flatnonzero(levels[name][at] == _LEVEL_INDEX[name][level])
        if len(where):
            co, cn, values, _ = pairs.codes(old.coded(column), new.coded(column), "", at[where])
            flag[where] = _per_pair(co, cn, values, functools.partial(_as_int, test)) > 0
            if fact == "typo":  # a typo is a spelling nobody else uses
                holders = _holders(old.coded(column), new.coded(column))
                flag[where] &= (holders[co] < 2) | (holders[cn] < 2)
        found[fact] = flag
    found["one_sex"] = _one_sex_facts(pairs, old, new, levels, at)
    return found


def _one_sex_facts(
    pairs: _Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64], at: I64
) -> npt.NDArray[np.bool_]:
    """For pairs with agreeing relationships: whether both adults are of one sex.

    See :func:`_one_sex`: Jimmy, a "parent", and James, a father, are two
    men when the district's other Jimmys are fathers; Chris is a father's
    and a mother's name, so a "parent" Chris may be either.
    """
    flag = np.zeros(len(at), np.bool_)
    agreeing = [_LEVEL_INDEX["relationship"][x] for x in ("same", "compatible")]
    where = np.flatnonzero(np.isin(levels["relationship"][at], agreeing))
    if not len(where):
        return flag
    fo, fn, names, _ = pairs.codes(old.coded("first"), new.coded("first"), "", at[where])
    ro, rn, roles, _ = pairs.codes(
        old.coded("relationships"), new.coded("relationships"), (), at[where]
    )
    sexes = _name_sexes(old, new)
    width, depth = len(names), len(roles)
    key = ((fo * width + fn) * depth + ro) * depth + rn
    distinct, inverse = np.unique(key, return_inverse=True)
    table = []
    for k in distinct.tolist():
        rest, rn_k = divmod(k, depth)
        rest, ro_k = divmod(rest, depth)
        fo_k, fn_k = divmod(rest, width)
        table.append(_one_sex(names[fo_k], names[fn_k], roles[ro_k], roles[rn_k], sexes))
    flag[where] = np.array(table, np.bool_)[inverse.reshape(-1)]
    return flag


def _name_sexes(*sides: _Columns) -> dict[str, Counter[str]]:
    """How many adults of each sex (by gendered relationship) use each given name."""
    sexes: dict[str, Counter[str]] = {}
    for side in sides:
        first, roles = side.coded("first"), side.coded("relationships")
        combos, counts = np.unique(
            first.codes * len(roles.values) + roles.codes, return_counts=True
        )
        for k, count in zip(combos.tolist(), counts.tolist(), strict=True):
            name, role = divmod(k, len(roles.values))
            found = {_RELATION_GROUPS[r] for r in roles.values[role] if r in _RELATION_GROUPS}
            if found and first.values[name]:
                tally = sexes.setdefault(first.values[name].split(" ", 1)[0], Counter())
                tally.update(dict.fromkeys(found, count))
    return sexes


_PARENTS = frozenset({"parent", "mother", "father", "mom", "dad"})


def _one_sex(
    a: str,
    b: str,
    roles_a: tuple[str, ...],
    roles_b: tuple[str, ...],
    sexes: Mapping[str, Counter[str]],
) -> bool:
    """Whether two accounts are both a parent of the child and known to be of one sex.

    A parent's sex is what the relationship says (mother, father); for a
    "parent", what the district's other adults with that given name are
    (none known: unknown). Other roles (an aunt, a guardian who may be a
    grandparent) leave the question open.
    """
    if not roles_a or not roles_b or not _PARENTS.issuperset(roles_a + roles_b):
        return False
    names = (a.split(" ", 1)[0], b.split(" ", 1)[0])
    stated = [
        {_RELATION_GROUPS[r] for r in roles if r in _RELATION_GROUPS}
        for roles in (roles_a, roles_b)
    ]
    known = []
    for me in (0, 1):
        if stated[me]:
            known.append(stated[me])
            continue
        tally = Counter(sexes.get(names[me], Counter()))
        if names[1 - me] == names[me]:  # the other account of the pair is no evidence
            tally.subtract(stated[1 - me])
        known.append({sex for sex, n in tally.items() if n > 0})
    return len(known[0]) == 1 and known[0] == known[1]


@functools.lru_cache(maxsize=4096)
def _combination(code: int) -> tuple[tuple[str, str], ...]:
    """The (comparison, level) pairs of a combined level code (see ``_match_columns``)."""
    levels = []
    for name, size in zip(reversed(_NAMES), reversed(_RADIX), strict=True):
        code, index = divmod(code, size)
        levels.append((name, GUARDIAN_COMPARISONS[name][index]))
    return tuple(reversed(levels))


def _same_role(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Both accounts name the same gendered relationship (both "mother")."""
    return any(r in _RELATION_GROUPS for r in set(a) & set(b))


_ARCHIVED_ID = operator.attrgetter("archived_id")
_SYNCED_ID = operator.attrgetter("synced_id")


def _match_columns(
    old: _Columns,
    new: _Columns,
    merges: Sequence[Merge],
    auto_threshold: float,
    review_threshold: float,
) -> tuple[list[GuardianMerge], I64]:
    """:func:`match_guardians` on both sides' accounts as columns; also the matched old accounts."""
    archived_ids = list(map(_ARCHIVED_ID, merges))
    synced_ids = list(map(_SYNCED_ID, merges))
    merge_a, merge_s = old.codes_of(archived_ids), new.codes_of(synced_ids)
    o_ptr, o_acc = old.by_student()
    n_ptr, n_acc = new.by_student()

    # Every (old account, new account, merge) meeting on a merged student pair.
    o_count = np.where(merge_a >= 0, o_ptr[merge_a + 1] - o_ptr[merge_a], 0)
    n_count = np.where(merge_s >= 0, n_ptr[merge_s + 1] - n_ptr[merge_s], 0)
    per = o_count * n_count
    total = int(per.sum())
    if total == 0:
        return [], np.zeros(0, np.int64)
    which = np.repeat(np.arange(len(merges), dtype=np.int64), per)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
    o = o_acc[o_ptr[merge_a[which]] + offset // n_count[which]]
    n = n_acc[n_ptr[merge_s[which]] + offset % n_count[which]]
    width = np.int64(len(new.ids))
    key = o * width + n
    order = np.argsort(key, kind="stable")
    key, which = key[order], which[order]
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    ends = np.append(starts[1:], len(key))
    pair_key = key[starts]  # one per (old, new) pair, in id order (both sides are sorted)
    pairs = _Pairs(pair_key // width, pair_key % width)

    levels = _levels(pairs, old, new)
    combo = np.zeros(len(pair_key), np.int64)
    bits = np.zeros(len(pair_key))
    for name, size in zip(_NAMES, _RADIX, strict=True):
        combo = combo * size + levels[name]
        bits = bits + _BIT_ARRAYS[name][levels[name]]
    candidates = np.maximum(
        np.bincount(pairs.old_of)[pairs.old_of], np.bincount(pairs.new_of)[pairs.new_of]
    )
    bits = _prior_bits(candidates) + bits
    # Two adults of one household share contacts; a different given name wins.
    cap = _logit(0.05)
    over = (levels["first_name"] == _LEVEL_INDEX["first_name"]["different"]) & (bits > cap)
    capped = np.where(over, cap - bits, 0.0)
    bits = np.where(over, cap, bits)

    result = assign(
        pairs.old_of,
        pairs.new_of,
        bits,
        n_groups=len(pairs.old_ix),
        n_synced=len(pairs.new_ix),
        floor_bits=_logit(review_threshold),
    )
    groups = np.flatnonzero(result.synced != NONE)
    old_chosen = pairs.old_ix[groups]
    new_chosen = pairs.new_ix[result.synced[groups]]
    chosen = np.searchsorted(pair_key, old_chosen * width + new_chosen)

    # Everything but the ids and students depends on a few values: decide once per kind.
    near_margin = result.margin[groups]
    kind = (combo[chosen] * (int(candidates.max()) + 1) + candidates[chosen]) * 2 + over[chosen]
    kind = kind * 2 + (near_margin < _MARGIN_BITS)
    facts = _facts(pairs, old, new, levels, chosen)
    for fact in _FACTS:
        kind = kind * 2 + facts[fact]
    _, first, kind_of = np.unique(kind, return_index=True, return_inverse=True)
    at = chosen[first]  # one pair of each kind
    decided = [
        _decide(code, b, cut, margin, auto_threshold, dict(zip(_FACTS, flags, strict=True)))
        for code, b, cut, margin, *flags in zip(
            combo[at].tolist(),
            bits[at].tolist(),
            capped[at].tolist(),
            near_margin[first].tolist(),
            *(facts[fact][first].tolist() for fact in _FACTS),
            strict=True,
        )
    ]
    # The merged student pairs each guardian pair met on (most met on one).
    merged = list(zip(archived_ids, synced_ids, strict=True))
    one = (ends - starts)[chosen] == 1
    students: list[tuple[tuple[str, str], ...]] = list(
        zip(map(merged.__getitem__, which[starts[chosen][one]].tolist()), strict=True)
    )
    if not one.all():
        which_list = which.tolist()
        several = [
            tuple(sorted({merged[k] for k in which_list[start:end]}))
            for start, end in zip(
                starts[chosen][~one].tolist(), ends[chosen][~one].tolist(), strict=True
            )
        ]
        students = _interleave(students, several, one.tolist())
    found = [
        GuardianMerge(ga, gs, *decided[d], students=met)
        for ga, gs, d, met in zip(
            map(old.ids.__getitem__, old_chosen.tolist()),
            map(new.ids.__getitem__, new_chosen.tolist()),
            kind_of.reshape(-1).tolist(),
            students,
            strict=True,
        )
    ]
    return found, old_chosen


def _interleave(first: list[Any], second: list[Any], take_first: list[bool]) -> list[Any]:
    """Merge two lists in order: the next of ``first`` where ``take_first``, else of ``second``."""
    a, b = iter(first), iter(second)
    return [next(a) if flag else next(b) for flag in take_first]


def _decide(
    code: int,
    bits: float,
    cut: float,
    margin: float,
    auto_threshold: float,
    facts: Mapping[str, bool],
) -> tuple[float, Decision, tuple[FieldEvidence, ...], tuple[str, ...]]:
    """Confidence, decision, evidence and reasons of an assigned pair."""
    named = _combination(code)
    evidence = _evidence_of(named)
    if cut:
        evidence = (*evidence, FieldEvidence("household_cap", "applied", cut))
    confidence = float(1.0 / (1.0 + 2.0 ** (-bits)))
    reasons = tuple(_reasons(dict(named), confidence, margin, auto_threshold, **facts))
    return confidence, "review" if reasons else "auto", evidence, reasons


def _logit(p: float) -> float:
    return float(np.log2(p / (1.0 - p)))


def _prior_bits(candidates: I64) -> npt.NDArray[np.float64]:
    """Prior log-odds of a pair whose accounts have ``candidates`` counterparts to choose from."""
    chance = _PRESENT / candidates
    prior: npt.NDArray[np.float64] = np.log2(chance / (1.0 - chance))
    return prior


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
    if accounts is None:
        old = _Columns.from_roster(archived)
        index = dict(zip(old.ids, itertools.count(), strict=False))
        found = (index.get(m.archived_guardian_id, -1) for m in guardian_merges)
        merged_accounts = np.array([i for i in found if i >= 0], np.int64)
        return _column_actions(old, merges, merged_accounts, policy, unmatched)
    matched = {m.archived_guardian_id for m in guardian_merges}
    merged_students = {m.archived_id for m in merges}
    links = []
    for gid, account in accounts.items():
        if policy == "remove_old" or gid not in matched:
            links += [(gid, sid) for sid in account.student_ids if sid in merged_students]
    return _action_list(links, policy, unmatched)


def _column_actions(
    old: _Columns, merges: Sequence[Merge], matched: I64, policy: str, unmatched: str
) -> list[GuardianAction]:
    """:func:`guardian_actions` on the old accounts as columns (``matched``: merged accounts)."""
    merged = np.zeros(len(old.student_id), np.bool_)
    codes = old.codes_of(list(map(_ARCHIVED_ID, merges)))
    merged[codes[codes >= 0]] = True
    rows = np.flatnonzero(merged[old.row_student])
    if policy != "remove_old":  # a matched guardian is handled by its guardian merge
        is_matched = np.zeros(len(old.ids), np.bool_)
        is_matched[matched] = True
        rows = rows[~is_matched[old.row_account[rows]]]
    ids, sid = old.ids, old.student_id
    links = sorted(
        {
            (account, sid[code])
            for account, code in zip(
                old.row_account[rows].tolist(), old.row_student[rows].tolist(), strict=True
            )
        }
    )
    return _action_list([(ids[account], student) for account, student in links], policy, unmatched)


def _action_list(
    links: Sequence[tuple[str, str]], policy: str, unmatched: str
) -> list[GuardianAction]:
    """One action per (old guardian, merged student) link that needs one, in the given order."""
    action: ActionKind
    if policy == "remove_old":
        action, reason = "detach", "district removes old guardians"
    elif unmatched == "remove":
        action, reason = "detach", "no counterpart among synced contacts"
    elif unmatched == "review":
        action, reason = "review", "no counterpart among synced contacts"
    else:
        action, reason = "flag", "kept; no counterpart among synced contacts"
    return [GuardianAction(action, gid, sid, reason) for gid, sid in links]


def _plan_guardians(
    archived: Roster,
    synced: Roster,
    merges: Sequence[Merge],
    *,
    auto_threshold: float,
    review_threshold: float,
    policy: str,
    unmatched: str,
) -> tuple[list[GuardianMerge], list[GuardianAction], _Columns]:
    """Guardian merges and old-guardian actions for a plan, reading each roster once.

    The same as :func:`match_guardians` (under ``keep_old``) and
    :func:`guardian_actions`; also returns the synced accounts as columns
    for :func:`merge_engine.roles.find_multiple_roles`.
    """
    old, new = _Columns.from_roster(archived), _Columns.from_roster(synced)
    found, matched = (
        _match_columns(old, new, merges, auto_threshold, review_threshold)
        if policy == "keep_old"
        else ([], np.zeros(0, np.int64))
    )
    return found, _column_actions(old, merges, matched, policy, unmatched), new
