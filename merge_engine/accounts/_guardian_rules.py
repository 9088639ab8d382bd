"""Guardian decisions: the bits of each comparison level and the rules that make a pair ``auto``.

Split from :mod:`merge_engine.accounts._guardians` (which finds and assigns pairs):
here a pair's levels (see :mod:`merge_engine.accounts._guardian_levels`) become a
confidence, evidence and the reasons it cannot be merged automatically.
Every number comes from :class:`merge_engine.Settings` through
:class:`GuardianRules`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from attrs import frozen

from .._catalog import DEFAULT_GUARDIAN_BITS
from .._evidence import FieldEvidence

if TYPE_CHECKING:
    from ..settings import Settings

Decision = Literal["auto", "review"]


_ANCHORS = ("email", "phone", "sis_id")
BELOW_THRESHOLD = "confidence below the auto-merge threshold"


@frozen
class GuardianRules:
    """The numbers the guardian matcher uses, all from :class:`merge_engine.Settings`.

    ``present``: the share of an old account's adults still listed by the
    sync; an old account met with ``n`` sync accounts on merged children is
    one of them with prior probability ``present / n``.
    """

    auto_threshold: float = 0.99
    review_threshold: float = 0.3
    close: float = 0.92
    margin_bits: float = 4.0
    name_conflict_max_probability: float = 0.05
    bits: Mapping[str, Mapping[str, float]] = DEFAULT_GUARDIAN_BITS
    present: float = 0.8
    phone_region: str = "US"

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardianRules:
        return cls(
            auto_threshold=settings.auto_threshold,
            review_threshold=settings.review_threshold,
            close=settings.guardian_close_threshold,
            margin_bits=settings.guardian_margin_bits,
            name_conflict_max_probability=settings.guardian_name_conflict_max_probability,
            bits=settings.guardian_bits_table(),
            present=settings.guardian_present_rate,
            phone_region=settings.phone_region,
        )

    def bit_arrays(
        self, comparisons: Mapping[str, tuple[str, ...]]
    ) -> dict[str, npt.NDArray[np.float64]]:
        """The bits of each comparison's levels, in level order."""
        return {
            name: np.array([self.bits[name][level] for level in levels], np.float64)
            for name, levels in comparisons.items()
        }

    def cap_bits(self) -> float:
        """The most a pair whose given names clearly differ may score."""
        return logit(self.name_conflict_max_probability)

    def prior_bits(self, candidates: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Prior log-odds of a pair whose accounts have ``candidates`` counterparts each."""
        chance = np.minimum(self.present / candidates, 0.999)
        prior: npt.NDArray[np.float64] = np.log2(chance / (1.0 - chance))
        return prior

    def decide(
        self,
        levels: tuple[tuple[str, str], ...],
        bits: float,
        cut: float,
        margin: float,
        facts: Mapping[str, bool],
        context: tuple[str, ...] = (),
    ) -> tuple[float, Decision, tuple[FieldEvidence, ...], tuple[str, ...]]:
        """Confidence, decision, evidence and reasons of an assigned pair.

        ``cut``: the bits the name-conflict cap took off (0 when none);
        ``context``: reasons the caller adds (a pair met on no merged child).
        """
        evidence = _evidence_of(levels, self.bits_key())
        if cut:
            evidence = (*evidence, FieldEvidence("household_cap", "applied", cut))
        confidence = float(1.0 / (1.0 + 2.0 ** (-bits)))
        found = reasons(dict(levels), **facts)
        if confidence < self.auto_threshold:
            found.append(BELOW_THRESHOLD)
        if margin < self.margin_bits:
            found.append("another account is nearly as likely")
        found += context
        return confidence, "review" if found else "auto", evidence, tuple(found)

    def bits_key(self) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
        return tuple((name, tuple(table.items())) for name, table in self.bits.items())


@functools.lru_cache(maxsize=4096)
def _evidence_of(
    levels: tuple[tuple[str, str], ...],
    bits: tuple[tuple[str, tuple[tuple[str, float], ...]], ...],
) -> tuple[FieldEvidence, ...]:
    table = {name: dict(values) for name, values in bits}
    return tuple(FieldEvidence(name, level, table[name][level]) for name, level in levels)


def logit(p: float) -> float:
    return math.log2(p / (1.0 - p))


def reasons(
    levels: Mapping[str, str],
    typo: bool = False,
    surname_slip: bool = False,
    child_surname: bool = False,
    one_sex: bool = False,
    contested: bool = False,
    old_unnamed: bool = False,
    unique_name: bool = False,
    rare_name: bool = False,
    email_spells: bool = False,
    auto_child: bool = True,
) -> list[str]:
    """Why a pair cannot be merged automatically, beyond confidence and margin (none: it can).

    The facts are those of :func:`merge_engine.accounts._guardian_levels.facts`. Two
    different adults of one household share a surname and often a phone or
    an email, so a shared contact never merges accounts alone: the adult
    must be identified by given name (or, on an account typed without one,
    by an email address that spells it, or by a gendered role both accounts
    name), and nothing may contradict it.
    """
    first, last, rel = levels["first_name"], levels["last_name"], levels["relationship"]
    email, phone = levels["email"], levels["phone"]
    found = []
    anchored = any(levels[a] == "exact" for a in _ANCHORS)
    same_role = rel == "same_role"
    # Paul/Paula, Daniel/Danielle: a "typo" between spouses sharing a household
    # email is a different adult. A close given name is accepted only with a
    # matching SIS id, when both adults are known to be of one sex (both
    # "mother", say), or when it is a slip inside the name rather than a
    # different ending.
    typo_ok = first == "close" and (levels["sis_id"] == "exact" or same_role or one_sex or typo)
    # An account typed without a given name (a teacher noted a parent's email or
    # phone) is the adult who shares a contact with it on the sync when its email
    # spells that adult's name, or when both accounts name the same gendered role:
    # spouses may share a family email or home phone, not a role ("mother" and
    # "father" conflict) nor a given name. With neither, or when another account
    # shares one of its contacts too (a household's), it stays in review.
    # On children whose merge is sure, and with nothing another account shares:
    # a phone-only account (no name, no email) is the adult its phone singles
    # out (nobody else in the district holds the number, and each other adult
    # of its children has another), and an unnamed account is the adult whose
    # full name its email spells, even without a shared contact, when it spells
    # no other adult of its children (see _guardian_single).
    singled = levels["singled_out"] == "phone" and auto_child
    # A full name (or the name an unnamed account's email spells) that is rare and
    # no other account's names the adult on a child whose merge is in review too.
    sure_child = auto_child or unique_name
    email_named = levels["singled_out"] == "email_name" and sure_child and not contested
    unnamed_ok = (
        anchored
        and not contested
        and (first == "in_email" or (first == "missing" and old_unnamed and (same_role or singled)))
    ) or email_named
    if first not in ("exact", "nickname") and not (typo_ok or unnamed_ok):
        found.append(f"given names are {first}")
    # A different surname is explained by a slip (Knight, Knught) with a shared
    # contact; by a change (marriage, divorce) with the same email, phone and
    # role; or by a teacher who typed the child's surname for a parent whose own
    # is another ("Mrs. Lam" for Ms. Tran), with a shared contact. (A surname the
    # old account's own email spells is level in_email, not different.)
    identified = first == "exact" or unnamed_ok
    if last == "different" and not (
        identified
        and (
            (surname_slip and anchored)
            or (child_surname and anchored)
            or (email == "exact" and phone == "exact" and rel != "conflicting")
            or (email_spells and rel != "conflicting")
        )
    ):
        found.append("surnames differ")
    # Without a shared contact detail, only the full name on the guardian list of
    # a child whose own merge is sure (auto) identifies the adult, and only when
    # their contact details do not all disagree or both adults are known to be of one sex with
    # agreeing relationships (a parent who changed phone and email). A
    # nickname (Bill, William) counts too, with agreeing relationships of one
    # sex: some nicknames are a man's and a woman's (Chris, Pat).
    contradicted = email == "different" and phone == "different"
    # On a child whose merge is sure, the adults who could be this one are those
    # of the child's two records, not the district's: a rare full name there
    # (see _guardian_levels.UNIQUE_NAME_SHARE) forgives every contact changed
    # too, though a namesake elsewhere in a large district carries it. (Rare, not
    # merely the same: a grandfather and a father may share a common name.)
    forgiven = unique_name or (auto_child and rare_name)
    # An unnamed account whose email spells the adult's name is named too, when
    # both accounts name the same gendered role.
    named = (
        sure_child
        and rel != "conflicting"
        and (
            (
                last in ("exact", "in_email")
                and (
                    (first == "exact" and (same_role or one_sex or forgiven or not contradicted))
                    or (first == "nickname" and (same_role or one_sex) and not contradicted)
                )
            )
            or (first == "in_email" and last == "missing" and same_role and not contradicted)
        )
    )
    if not anchored and not named and not email_named:
        found.append("no shared email, phone or SIS id")
    if rel == "conflicting":
        found.append("relationships conflict (for example mother and father)")
    if levels["sis_id"] == "different":
        found.append("SIS ids differ")
    return found
