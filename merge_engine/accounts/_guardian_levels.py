"""Guardian comparisons: the level of each field for a pair of accounts, and the facts rules need.

Split from :mod:`merge_engine.accounts._guardians` (which decides): here a pair of
accounts becomes comparison levels (:data:`GUARDIAN_COMPARISONS`) and a few
yes/no facts (a typo inside the name, a surname one letter off, both adults
of one sex, an email address that spells the adult's name, a surname that
is the child's), computed on columns once per distinct pair of values.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .._catalog import GUARDIAN_COMPARISONS
from ..matching._arrays import isin, unique
from ..matching._normalize import nickname_index
from ._guardian_columns import GuardianAccount, _Columns, _email_level, _phone_key
from ._guardian_pairs import Pairs, _holders, _per_pair, _unify
from ._guardian_single import full_name_in, singled_out, surname_in_email

__all__ = ["GUARDIAN_COMPARISONS", "LEVEL_INDEX", "Pairs", "compare_guardians", "levels_of"]

I64 = npt.NDArray[np.int64]


DEFAULT_CLOSE = 0.92
_RELATION_GROUPS = {
    "mother": "f", "mom": "f", "stepmother": "f", "grandmother": "f", "aunt": "f",
    "father": "m", "dad": "m", "stepfather": "m", "grandfather": "m", "uncle": "m",
}  # fmt: skip
_GENERATION = {"grandmother": "g", "grandfather": "g", "grandparent": "g"}
_PARENTS = frozenset({"parent", "mother", "father", "mom", "dad"})


def _first_level(a: str, b: str, close: float = DEFAULT_CLOSE) -> str:
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    ta, tb = a.split(maxsplit=1)[0], b.split(maxsplit=1)[0]
    if nickname_index().equivalent(ta, tb) or (ta == tb and (a == ta or b == tb)):
        return "nickname"
    if len(ta) == 1 or len(tb) == 1:
        return "initial" if ta[0] == tb[0] else "different"
    return "close" if _jaro_winkler()(a, b) >= close else "different"


def _last_level(a: str, b: str, close: float = DEFAULT_CLOSE) -> str:
    if not a or not b:
        return "missing"
    if a.replace(" ", "") == b.replace(" ", ""):
        return "exact"
    if set(a.split()) & set(b.split()):
        return "compound"
    return "close" if _jaro_winkler()(a, b) >= close else "different"


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
        return "same_role" if _same_role(a, b) else "same"
    sex_a = {_RELATION_GROUPS[r] for r in a if r in _RELATION_GROUPS}
    sex_b = {_RELATION_GROUPS[r] for r in b if r in _RELATION_GROUPS}
    gen_a = {r in _GENERATION for r in a}
    gen_b = {r in _GENERATION for r in b}
    if (sex_a and sex_b and not sex_a & sex_b) or (
        gen_a != gen_b and len(gen_a) == len(gen_b) == 1
    ):
        return "conflicting"
    return "compatible"


def _same_role(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Both accounts name the same gendered relationship (both "mother")."""
    return any(r in _RELATION_GROUPS for r in set(a) & set(b))


_LETTERS = re.compile(r"[a-z]+")


@functools.lru_cache(maxsize=65_536)
def _email_names(email: str, first: str, last: str) -> tuple[bool, str]:
    """Whether an email address spells the adult's name, and the word, if it may be another's.

    The given name (three letters or more) as a word of the address, alone
    or joined to the surname (``paula``, ``paulasmith``, ``smithpaula``), or
    an initial joined to the surname (``psmith``, ``smithp``) or to the given
    name (``paulas``). A family address (``quix.family@``) names nobody.
    The given name with a surname initial may be another given name
    (``paula`` for Paul Anderson): that word is returned, for the caller to
    check it is no given name in use (``""`` otherwise).
    """
    given = "".join(_LETTERS.findall(first.split(maxsplit=1)[0])) if first else ""
    if len(given) < 2 or not email:
        return False, ""
    words = _LETTERS.findall(email.partition("@")[0])
    surnames = {s for s in ("".join(last.split()), *last.split()) if len(s) >= 2}
    forms = {given} if len(given) >= 3 else set()
    for s in surnames:
        forms |= {given + s, s + given}
        if len(s) >= 3:
            forms |= {given[0] + s, s + given[0]}
    if any(w in forms for w in words) or (given in words and any(w in surnames for w in words)):
        return True, ""
    initials = {given + s[0] for s in surnames}
    loose = next((w for w in words if w in initials), "")
    return bool(loose), loose


def compare_guardians(
    a: GuardianAccount, b: GuardianAccount, close: float = DEFAULT_CLOSE
) -> dict[str, str]:
    """The level of every guardian comparison for one pair of accounts (``a`` the old one).

    The levels that need the whole district (how many accounts hold an
    address, the other adults of the children) are those of the pair alone:
    ``singled_out`` is ``no``.
    """
    first = _first_level(a.first_name, b.first_name, close)
    if (
        first == "missing"
        and not a.first_name
        and _email_names(a.email, b.first_name, b.last_name)[0]
    ):
        first = "in_email"
    last = _last_level(a.last_name, b.last_name, close)
    email = _email_level(a.email, b.email)
    if (
        first == "exact"
        and last == "different"
        and email != "exact"
        and full_name_in(a.email, b.first_name, b.last_name)
    ):
        last = "in_email"  # the old account's own (other) address spells the full name
    return {
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": _equal_level(_phone_key(a.phone), _phone_key(b.phone)),
        "sis_id": _equal_level(a.sis_id, b.sis_id),
        "relationship": _relationship_level(a.relationships, b.relationships),
        "singled_out": "no",  # needs the district: see _guardian_single
    }


LEVEL_INDEX = {
    name: {level: i for i, level in enumerate(levels)}
    for name, levels in GUARDIAN_COMPARISONS.items()
}
NAMES = tuple(GUARDIAN_COMPARISONS)
RADIX = tuple(len(levels) for levels in GUARDIAN_COMPARISONS.values())
_COMPARE: tuple[tuple[str, str, Callable[..., str] | None], ...] = (
    ("first_name", "first", _first_level),
    ("last_name", "last", _last_level),
    ("email", "email", _email_level),
    ("phone", "phone_key", None),
    ("sis_id", "sis", None),
    ("relationship", "relationships", _relationship_level),
)  # (comparison, column, level function or None for plain equality), in GUARDIAN_COMPARISONS order
_COLUMNS = tuple(column for _, column, _ in _COMPARE)


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


def _email_levels(pairs: Pairs, old: _Columns, new: _Columns) -> I64:
    """:func:`_email_level` for every pair: by code, and one by one for hand-typing slips."""
    index = LEVEL_INDEX["email"]
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


def levels_of(
    pairs: Pairs, old: _Columns, new: _Columns, close: float = DEFAULT_CLOSE
) -> dict[str, I64]:
    """The level index of every comparison for every pair (``close``: the typo threshold)."""
    levels: dict[str, I64] = {}
    old.coded_with(new, _COLUMNS)
    for name, column, level_of in _COMPARE:
        index = LEVEL_INDEX[name]
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
            compare = (
                functools.partial(level_of, close=close)
                if name in ("first_name", "last_name")
                else level_of
            )
            levels[name] = _per_pair(co, cn, values, functools.partial(_level, compare, index))
    _name_in_email(pairs, old, new, levels["first_name"])
    surname_in_email(pairs, old, new, levels)
    levels["singled_out"] = singled_out(pairs, old, new, levels)
    return {name: levels[name] for name in GUARDIAN_COMPARISONS}


def _name_in_email(pairs: Pairs, old: _Columns, new: _Columns, first: I64) -> None:
    """Turn ``missing`` given names into ``in_email`` where the old account has none and its
    email spells the sync account's name (see :func:`_email_names`) and is nobody else's.

    A household may use one adult's address for both (a father's account typed
    with ``monica.flores@``): an address that two accounts of either side hold,
    or that a district given name merely starts (``paula@`` is not Paul A.'s),
    names nobody.
    """
    where = np.flatnonzero(first == LEVEL_INDEX["first_name"]["missing"])
    if not len(where):
        return
    o_email, n_email = old.coded("email"), new.coded("email")
    holders = _holders(o_email, n_email)
    given = old.memo("given_names", new, lambda: _given_names(old, new))
    o = pairs.old_ix[pairs.old_of[where]].tolist()
    n = pairs.new_ix[pairs.new_of[where]].tolist()
    spelled = []
    for i, j in zip(o, n, strict=True):
        if old.first[i] or not new.first[j] or holders[o_email.codes[i]] > 2:
            spelled.append(False)
            continue
        names, word = _email_names(old.email[i], new.first[j], new.last[j])
        spelled.append(names and word not in given)
    first[where[np.array(spelled, np.bool_)]] = LEVEL_INDEX["first_name"]["in_email"]


def _given_names(*sides: _Columns) -> frozenset[str]:
    """Every given name (first word) of the district's guardian accounts."""
    return frozenset(
        name.split(maxsplit=1)[0] for side in sides for name in side.coded("first").values if name
    )


FACTS = (
    "typo",
    "surname_slip",
    "child_surname",
    "one_sex",
    "contested",
    "old_unnamed",
    "unique_name",
    "rare_name",
    "email_spells",
)
"""What the decision rules need beyond the levels (see ``_guardian_rules.reasons``)."""


def facts(
    pairs: Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64], at: I64
) -> dict[str, npt.NDArray[np.bool_]]:
    """The :data:`FACTS` of the pairs ``at``, looked at only where a rule asks for them.

    ``typo``: the given names are one slip apart inside the name and one
    spelling is nobody else's (:func:`_typo`); ``surname_slip``: the surnames
    are one letter apart (:func:`_slip`); ``child_surname``: the surnames
    differ and the old account's is its child's (a teacher typed "Mrs. Lam"
    for the mother of Lan Lam, whose own surname is Tran); ``one_sex``: both
    are the child's parents and known to be of one sex (:func:`_one_sex`);
    ``contested``: another account of the other side shares an exact email,
    phone or SIS id with one of the pair's (a household's shared details);
    ``old_unnamed``: the old account has no given name (typed by a teacher
    from a parent's email or phone), the sync account has one;
    ``unique_name``: the full name is the same (or spelled by the old
    account's email) and rare, and no other account carries it
    (:func:`_unique_name_facts`); ``rare_name``: the given name and surname
    are the same and rare on each side, whether or not a namesake elsewhere
    in the district carries them too (:func:`_rare`); ``email_spells``: the surnames differ and
    the email both accounts hold spells the sync account's full name (her
    own address: she changed surname, or the old account has her maiden one).
    """
    found = {}
    rules: tuple[tuple[str, str, str, str, Callable[[Any, Any], bool]], ...] = (
        ("typo", "first", "first_name", "close", _typo),
        ("surname_slip", "last", "last_name", "different", _slip),
    )
    for fact, column, name, level, test in rules:
        flag = np.zeros(len(at), np.bool_)
        where = np.flatnonzero(levels[name][at] == LEVEL_INDEX[name][level])
        if len(where):
            co, cn, values, _ = pairs.codes(old.coded(column), new.coded(column), "", at[where])
            flag[where] = _per_pair(co, cn, values, functools.partial(_as_int, test)) > 0
            if fact == "typo":  # a typo is a spelling nobody else uses
                holders = _holders(old.coded(column), new.coded(column))
                flag[where] &= (holders[co] < 2) | (holders[cn] < 2)
        found[fact] = flag
    found["child_surname"] = _child_surname_facts(pairs, old, levels, at)
    anchored = np.zeros(len(pairs.old_of), np.bool_)
    for name in ("email", "phone", "sis_id"):
        anchored |= levels[name] == LEVEL_INDEX[name]["exact"]
    per_old = np.bincount(pairs.old_of, weights=anchored, minlength=len(pairs.old_ix))
    per_new = np.bincount(pairs.new_of, weights=anchored, minlength=len(pairs.new_ix))
    o_first, n_first = pairs.old_ix[pairs.old_of[at]], pairs.new_ix[pairs.new_of[at]]
    found["old_unnamed"] = np.array(
        [
            not old.first[i] and bool(new.first[j])
            for i, j in zip(o_first.tolist(), n_first.tolist(), strict=True)
        ],
        np.bool_,
    )
    found["contested"] = (per_old[pairs.old_of[at]] - anchored[at] > 0) | (
        per_new[pairs.new_of[at]] - anchored[at] > 0
    )
    found["one_sex"] = _one_sex_facts(pairs, old, new, levels, at)
    found["unique_name"] = _unique_name_facts(pairs, old, new, levels, at)
    found["rare_name"] = _rare_name_facts(pairs, old, new, levels, at)
    found["email_spells"] = _email_spells_facts(pairs, new, levels, at)
    return found


def _email_spells_facts(
    pairs: Pairs, new: _Columns, levels: Mapping[str, I64], at: I64
) -> npt.NDArray[np.bool_]:
    """Whether the shared email of each pair ``at`` (whose surnames differ) spells the sync
    account's full name (see :func:`full_name_in`)."""
    flag = np.zeros(len(at), np.bool_)
    where = np.flatnonzero(
        (levels["last_name"][at] == LEVEL_INDEX["last_name"]["different"])
        & (levels["email"][at] == LEVEL_INDEX["email"]["exact"])
    )
    for k, j in zip(where.tolist(), pairs.new_ix[pairs.new_of[at[where]]].tolist(), strict=True):
        flag[k] = full_name_in(new.email[j], new.first[j], new.last[j])
    return flag


def _unique_name_facts(
    pairs: Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64], at: I64
) -> npt.NDArray[np.bool_]:
    """Whether each pair ``at`` has the same full name, rare and held by no other account.

    A full name a district gives one adult on each side (the old system and
    the sync) is that adult's, when the name is rare too: on each side, the
    share of named accounts one would expect to carry it by chance (the
    given name's share times the surname's) is at most
    :data:`UNIQUE_NAME_SHARE`. In a small roster every name is unique and
    none is rare: uniqueness there says nothing. Where the old account's
    email spells the sync account's name (no given name on the old account,
    or another surname), no old account may carry that name at all.
    """
    flag = np.zeros(len(at), np.bool_)
    same = (levels["first_name"][at] == LEVEL_INDEX["first_name"]["exact"]) & (
        levels["last_name"][at] == LEVEL_INDEX["last_name"]["exact"]
    )
    # The old account's email spells the sync account's name: its given name is missing
    # (singled_out=email_name) or the same with another surname (last_name=in_email).
    spelled = (levels["singled_out"][at] == LEVEL_INDEX["singled_out"]["email_name"]) | (
        (levels["first_name"][at] == LEVEL_INDEX["first_name"]["exact"])
        & (levels["last_name"][at] == LEVEL_INDEX["last_name"]["in_email"])
    )
    where = np.flatnonzero(same | spelled)
    if not len(where):
        return flag
    flag[where] = True
    j = pairs.new_ix[pairs.new_of[at[where]]]
    flag[where] &= _rare_and_unique(new, j)
    # An old account is the adult whose name its email spells when no old account has the name.
    i = pairs.old_ix[pairs.old_of[at[where]]]
    flag[where] &= np.where(same[where], _rare_and_unique(old, i), ~_full_name_held(old, new, j))
    return flag


def _full_name_held(old: _Columns, new: _Columns, account: I64) -> npt.NDArray[np.bool_]:
    """Whether any old account carries the full name of each of the new ``account``."""
    of, nf, ol, nl = old.coded("first"), new.coded("first"), old.coded("last"), new.coded("last")
    width = len(ol.values) + len(nl.values)
    # Both names in the code space of both sides (old values first: old codes are their own).
    held = old.memo("full_name_keys", new, lambda: unique(of.codes * width + ol.codes))
    first, last = _unify(of, nf)[nf.codes[account]], _unify(ol, nl)[nl.codes[account]]
    found: npt.NDArray[np.bool_] = isin(first * width + last, held)
    blank = (nf.codes[account] == nf.code_of("")) | (nl.codes[account] == nl.code_of(""))
    if blank.any():  # an unnamed account's name is every unnamed account's
        found[blank] = old.full_names()[1] >= 0
    return found


def _rare_name_facts(
    pairs: Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64], at: I64
) -> npt.NDArray[np.bool_]:
    """Whether each pair ``at`` has the same given name and surname, rare on both sides
    (:func:`_rare`), namesakes elsewhere in the district or not."""
    flag: npt.NDArray[np.bool_] = (
        levels["first_name"][at] == LEVEL_INDEX["first_name"]["exact"]
    ) & (levels["last_name"][at] == LEVEL_INDEX["last_name"]["exact"])
    where = np.flatnonzero(flag)
    flag[where] = _rare(new, pairs.new_ix[pairs.new_of[at[where]]]) & _rare(
        old, pairs.old_ix[pairs.old_of[at[where]]]
    )
    return flag


def _rare(side: _Columns, account: I64) -> npt.NDArray[np.bool_]:
    """Whether the full name of each of the accounts ``account`` of ``side`` is rare there:
    the given name's share of the side's named accounts times the surname's is at most
    :data:`UNIQUE_NAME_SHARE`."""
    full, empty = side.full_names()
    held = np.bincount(full)
    named = max(len(full) - (int(held[empty]) if empty >= 0 else 0), 1)
    first, last = side.coded("first"), side.coded("last")
    share = (
        np.bincount(first.codes)[first.codes[account]]
        / named
        * np.bincount(last.codes)[last.codes[account]]
        / named
    )
    rare: npt.NDArray[np.bool_] = share <= UNIQUE_NAME_SHARE
    return rare


def _rare_and_unique(side: _Columns, account: I64) -> npt.NDArray[np.bool_]:
    """Whether the full name of each of the accounts ``account`` of ``side`` is rare there
    (:func:`_rare`) and no other account of the side carries it."""
    full = side.full_names()[0]
    unique: npt.NDArray[np.bool_] = np.bincount(full)[full[account]] == 1
    return unique & _rare(side, account)


UNIQUE_NAME_SHARE = 1e-4
"""The largest share of a side's named accounts expected to carry a full name by chance (the
given name's share times the surname's) for the name to be rare.

A share, not a count of namesakes in the district: the pair is met on one
child, and what could make it wrong is the few adults listed on that child's
other record (a child merge in review may pair two different children), not
every adult of the district. A district of 150,000 students holds seven
times the namesakes of one of 20,000, a child's record does not. At 1e-4,
even a child merge that is wrong for sure, with four adults on the other
record, brings a namesake by chance less than once in 2,000 pairs (the
precision target is 99.9 %). A roster of fewer than 100 named accounts has
no rare name (one account's share is at least 1 / named squared).
"""


def _child_surname_facts(
    pairs: Pairs, old: _Columns, levels: Mapping[str, I64], at: I64
) -> npt.NDArray[np.bool_]:
    """For pairs whose surnames differ: whether the old account's surname is its child's."""
    flag = np.zeros(len(at), np.bool_)
    where = np.flatnonzero(levels["last_name"][at] == LEVEL_INDEX["last_name"]["different"])
    for k, account in zip(
        where.tolist(), pairs.old_ix[pairs.old_of[at[where]]].tolist(), strict=True
    ):
        flag[k] = old.last[account] in old.child_surnames(account)
    return flag


def _one_sex_facts(
    pairs: Pairs, old: _Columns, new: _Columns, levels: Mapping[str, I64], at: I64
) -> npt.NDArray[np.bool_]:
    """For pairs with agreeing relationships: whether both adults are of one sex.

    See :func:`_one_sex`: Jimmy, a "parent", and James, a father, are two
    men when the district's other Jimmys are fathers; Chris is a father's
    and a mother's name, so a "parent" Chris may be either.
    """
    flag = np.zeros(len(at), np.bool_)
    agreeing = [LEVEL_INDEX["relationship"][x] for x in ("same_role", "same", "compatible")]
    where = np.flatnonzero(np.isin(levels["relationship"][at], agreeing))
    if not len(where):
        return flag
    fo, fn, names, _ = pairs.codes(old.coded("first"), new.coded("first"), "", at[where])
    ro, rn, roles, _ = pairs.codes(
        old.coded("relationships"), new.coded("relationships"), (), at[where]
    )
    sexes = old.memo("name_sexes", new, lambda: _name_sexes(old, new))
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
def combination(code: int) -> tuple[tuple[str, str], ...]:
    """The (comparison, level) pairs of a combined level code (see ``_match_columns``)."""
    levels = []
    for name, size in zip(reversed(NAMES), reversed(RADIX), strict=True):
        code, index = divmod(code, size)
        levels.append((name, GUARDIAN_COMPARISONS[name][index]))
    return tuple(reversed(levels))
