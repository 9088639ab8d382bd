"""Households as units: the families that both rosters describe, found together.

A child's own guardian contacts often change between the platform and the SIS (a new email,
the other parent listed) while a sibling's did not. Linking every record, archived and
synced at once, through any guardian phone, guardian email or street address it shares
with another record (and, within one side, any guardian account) puts the child and its
synced record in one family even when their own contacts share nothing. A family says
"same household", never "same child": it anchors a pair whose names agree and brings
forward pairs that no name-based rule would have compared, but the child-specific gates
(given name, grade, birth date, the twin rule) still decide which child of the family a
record is, so a sibling never takes a child's place.

The families are the connected components of one graph whose nodes are the students of
both sides and the contact values they hold. A value held by more than
``household_max_children`` students of one side is a school office number or a
placeholder address, not a household tie, and is left out; a component that still grows
past a few households is a chain of such ties and is not treated as a family.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from attrs import frozen

from ..settings import Settings
from ._arrays import component_labels, isin, sorted_order, unique, unique_inverse
from ._comparisons import COMPARISONS, given_name_levels
from ._features import GRADE_MISSING, MISSING, EncodedSide, Vocabularies

__all__ = [
    "Families",
    "alike_twins",
    "alone_in_class",
    "find_families",
    "leftover_pairs",
    "second_records",
]

I64 = npt.NDArray[np.int64]

_FIRST_LEVELS = next(c.levels for c in COMPARISONS if c.name == "first_name")
_GENDER_LEVELS = next(c.levels for c in COMPARISONS if c.name == "gender")


@frozen
class Families:
    """The family of every record: equal ids on the two sides mean one household."""

    archived: I64
    synced: I64
    #: Records with a similarly named twin in their family (see :func:`alike_twins`).
    alike_archived: npt.NDArray[np.bool_] | None = None
    alike_synced: npt.NDArray[np.bool_] | None = None
    #: Records with a similarly named twin of the other gender (Jordan and Jordyn).
    mixed_archived: npt.NDArray[np.bool_] | None = None
    mixed_synced: npt.NDArray[np.bool_] | None = None
    #: Records alone of their grade in their family (see :func:`alone_in_class`).
    alone_archived: npt.NDArray[np.bool_] | None = None
    alone_synced: npt.NDArray[np.bool_] | None = None

    def same(self, archived: I64, synced: I64) -> npt.NDArray[np.bool_]:
        """Whether each pair's two records lie in one family."""
        fa = self.archived[archived]
        return np.asarray((fa >= 0) & (fa == self.synced[synced]))

    def candidate_pairs(
        self, ea: EncodedSide, eb: EncodedSide, grade_progression: int, exclude: I64
    ) -> tuple[I64, I64]:
        """Every archived-synced pair inside one family whose grades are at most a year
        from the expected progression (or unknown), minus the pair codes in ``exclude``."""
        a_ids = np.flatnonzero(self.archived >= 0)
        b_ids = np.flatnonzero(self.synced >= 0)
        if not len(a_ids) or not len(b_ids):
            empty = np.empty(0, np.int64)
            return empty, empty
        a_order, fa = sorted_order(self.archived[a_ids])
        b_order, fb = sorted_order(self.synced[b_ids])
        a_sorted, b_sorted = a_ids[a_order], b_ids[b_order]
        lo = np.searchsorted(fb, fa, side="left")
        hi = np.searchsorted(fb, fa, side="right")
        counts = hi - lo
        left = np.repeat(a_sorted, counts)
        starts = np.repeat(lo, counts)
        offsets = np.arange(len(left), dtype=np.int64) - np.repeat(
            np.cumsum(counts) - counts, counts
        )
        right = b_sorted[starts + offsets]
        ga = ea.grade[left].astype(np.int64)
        gb = eb.grade[right].astype(np.int64)
        known = (ga != GRADE_MISSING) & (gb != GRADE_MISSING)
        keep = ~known | (np.abs(gb - ga - grade_progression) <= 1)
        left, right = left[keep], right[keep]
        nb = np.int64(max(len(eb), 1))
        codes = unique(left * nb + right)
        if len(exclude):
            codes = codes[~isin(codes, exclude)]
        return codes // nb, codes % nb


def _ties(side: EncodedSide, accounts_at: int) -> tuple[I64, I64, I64]:
    """(record, value node) for every guardian contact and guardian account of one side, and
    the records with a street address. Contact codes come from one vocabulary shared by both
    sides and are their own value nodes; account codes are the side's own, so their nodes
    start at ``accounts_at`` (after the contacts and the other side's accounts): an account
    ties records of its own side only."""
    records = [
        side.guardian_phones.owners(),
        side.guardian_emails.owners(),
        side.guardian_accounts.owners(),
    ]
    values = [
        side.guardian_phones.values.astype(np.int64),
        side.guardian_emails.values.astype(np.int64),
        accounts_at + side.guardian_accounts.values.astype(np.int64),
    ]
    return (
        np.concatenate(records),
        np.concatenate(values),
        np.flatnonzero((side.street != MISSING) & (side.zip != MISSING)),
    )


def _n_accounts(side: EncodedSide) -> int:
    values = side.guardian_accounts.values
    return int(values.max()) + 1 if len(values) else 0


def find_families(
    ea: EncodedSide, eb: EncodedSide, n_contacts: int, max_children: int, max_family: int
) -> Families:
    """Connected components of records joined by shared guardian contacts and addresses.

    ``n_contacts`` is the size of the contact vocabulary (account and address value nodes
    are placed after it). A record tied to no other record has no family (-1 archived, -2
    synced).

    Every value is numbered once for both sides (contacts by their code, accounts after
    them, then each distinct (street, zip)), so no value is sorted more than once. Records
    are numbered before values, so each family's smallest node, which numbers it, is a
    record whatever the values' numbers.
    """
    na, nb = len(ea), len(eb)
    accounts_a = n_contacts
    accounts_b = accounts_a + _n_accounts(ea)
    addresses = accounts_b + _n_accounts(eb)
    ra, va, homes_a = _ties(ea, accounts_a)
    rb, vb, homes_b = _ties(eb, accounts_b)
    # One value per (street, zip): streets repeat across towns, so the zip is part of it.
    zips = max(int(ea.zip.max(initial=0)), int(eb.zip.max(initial=0))) + 1
    kinds, home = unique_inverse(
        np.concatenate(
            [
                ea.street[homes_a].astype(np.int64) * zips + ea.zip[homes_a],
                eb.street[homes_b].astype(np.int64) * zips + eb.zip[homes_b],
            ]
        )
    )
    n_values = addresses + len(kinds)
    ra = np.concatenate([ra, homes_a])
    va = np.concatenate([va, addresses + home[: len(homes_a)]])
    rb = np.concatenate([rb, homes_b])
    vb = np.concatenate([vb, addresses + home[len(homes_a) :]])
    # One record may list a value twice (two guardians sharing an email): count records.
    ra, va = _distinct(ra, va)
    rb, vb = _distinct(rb, vb)
    # A value held by more than ``max_children`` records of one side is not a household's.
    keep_a = np.bincount(va, minlength=n_values)[va] <= max_children
    keep_b = np.bincount(vb, minlength=n_values)[vb] <= max_children
    ra, va, rb, vb = ra[keep_a], va[keep_a], rb[keep_b], vb[keep_b]
    # Only the values left tie records: numbered among themselves, the graph is no larger.
    values = np.concatenate([va, vb])
    used = np.zeros(n_values, np.bool_)
    used[values] = True
    node = np.cumsum(used) - 1
    n = na + nb + (int(node[-1]) + 1 if n_values else 0)
    label = component_labels(n, np.concatenate([ra, na + rb]), na + nb + node[values])
    fa, fb = label[:na], label[na : na + nb]
    size_a = np.bincount(fa, minlength=n)
    size_b = np.bincount(fb, minlength=n)
    family = ((size_a + size_b) >= 2) & (size_a <= max_family) & (size_b <= max_family)
    return Families(np.where(family[fa], fa, -1), np.where(family[fb], fb, -2))


def _distinct(records: I64, values: I64) -> tuple[I64, I64]:
    """The distinct (record, value) pairs (values are value nodes, below 2**32)."""
    if not len(records):
        return records, values
    keys = unique((records << 32) | values)
    return keys >> 32, keys & 0xFFFFFFFF


def alike_twins(
    family: I64, side: EncodedSide, vocab: Vocabularies, settings: Settings
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Records with a brother or sister of the same grade in their family whose given name
    is one typo or a nickname away: of the same gender (Braden and Brayden; a record naming
    either may be the other, and only a middle name or an identifier tells them apart), and
    of the other gender (Jordan and Jordyn, Antonio and Antonia; the record's own gender
    tells them apart too, when it is known)."""
    members = np.flatnonzero((family >= 0) & (side.grade != GRADE_MISSING))
    out = np.zeros(len(side), np.bool_)
    mixed = np.zeros(len(side), np.bool_)
    if len(members) < 2:
        return out, mixed
    key = family[members] * 64 + side.grade[members].astype(np.int64) + 16
    order, key = sorted_order(key)
    members = members[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    left: list[int] = []
    right: list[int] = []
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        group = members[start : start + size].tolist()
        for x in range(size):
            for y in range(x + 1, size):
                left.append(group[x])
                right.append(group[y])
    if not left:
        return out, mixed
    ia = np.asarray(left, np.int64)
    ib = np.asarray(right, np.int64)
    first, gender = given_name_levels(side, side, ia, ib, vocab.names, settings.close_threshold)
    named_alike = np.isin(first, [_FIRST_LEVELS.index("close"), _FIRST_LEVELS.index("nickname")])
    other_gender = gender == _GENDER_LEVELS.index("different")
    alike = named_alike & ~other_gender
    out[ia[alike]] = True
    out[ib[alike]] = True
    mixed[ia[named_alike & other_gender]] = True
    mixed[ib[named_alike & other_gender]] = True
    return out, mixed


def leftover_pairs(
    families: Families,
    ea: EncodedSide,
    eb: EncodedSide,
    free_archived: npt.NDArray[np.bool_],
    free_synced: npt.NDArray[np.bool_],
    grade_progression: int,
) -> tuple[I64, I64]:
    """Pairs of records left over in one family: the only unmatched archived record and the
    only unmatched synced record of a class (grade within a year of the expected one).

    Such a pair is a child who goes by another given name in one roster (an English school
    name, the middle name) or a brother or sister who came as the other left; only a
    person can tell, so it is proposed for review, never decided here.
    """
    keep_a = free_archived & (families.archived >= 0)
    keep_b = free_synced & (families.synced >= 0)
    sub = Families(np.where(keep_a, families.archived, -1), np.where(keep_b, families.synced, -2))
    ia, ib = sub.candidate_pairs(ea, eb, grade_progression, np.empty(0, np.int64))
    if not len(ia):
        return ia, ib
    one_a = np.bincount(ia, minlength=len(ea))[ia] == 1
    one_b = np.bincount(ib, minlength=len(eb))[ib] == 1
    return ia[one_a & one_b], ib[one_a & one_b]


def alone_in_class(family: I64, side: EncodedSide) -> npt.NDArray[np.bool_]:
    """Records that are the only one of their family with their grade on their side: no
    twin, and no second record of the same child, could be confused with them."""
    known = (family >= 0) & (side.grade != GRADE_MISSING)
    key = np.where(known, family * 64 + side.grade.astype(np.int64) + 16, -1)
    _, inverse = unique_inverse(key)
    return np.asarray(known & (np.bincount(inverse)[inverse] == 1))


def second_records(
    families: Families,
    ea: EncodedSide,
    eb: EncodedSide,
    free_archived: npt.NDArray[np.bool_],
    owner: I64,
    grade_progression: int,
) -> tuple[I64, I64, I64]:
    """(archived, synced, owner) for an unmatched archived record whose family has exactly one
    synced child of its class, taken by another archived record of the same class.

    ``owner[s]`` is the archived record assigned to synced ``s`` (-1 when none). The
    unmatched record is that child typed twice (under a nickname, another given name, a
    slip) or a twin who left: a person decides, so the pair is proposed for review.
    """
    sub = Families(np.where(free_archived, families.archived, -1), families.synced)
    ia, ib = sub.candidate_pairs(ea, eb, grade_progression, np.empty(0, np.int64))
    if not len(ia):
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    first = owner[ib]
    keep = first >= 0
    ia, ib, first = ia[keep], ib[keep], first[keep]
    keep = (families.archived[first] == families.archived[ia]) & (ea.grade[first] == ea.grade[ia])
    ia, ib, first = ia[keep], ib[keep], first[keep]
    one = np.bincount(ia, minlength=len(ea))[ia] == 1
    return ia[one], ib[one], first[one]
