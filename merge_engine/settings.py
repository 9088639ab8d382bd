"""Planning settings: thresholds, fields, blocking and the model.

The defaults work without tuning on real districts; every field is
documented here and in ``docs/settings.md``. Settings load from TOML or
JSON files and are written into every plan, so a plan says exactly how
it was made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen

from ._catalog import (
    BLOCKING_RULE_NAMES,
    COMPARISON_NAMES,
    DEFAULT_GUARDIAN_BITS,
    GUARDIAN_COMPARISONS,
)
from ._config import read_config
from .exceptions import SettingsError

__all__ = ["Settings"]


def _probability(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 < value < 1.0):
        raise SettingsError(f"{attribute.name} must be a probability strictly between 0 and 1")


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not (
        isinstance(value, int | float) and value >= 0 and math.isfinite(value)
    ):
        raise SettingsError(f"{attribute.name} must be a non-negative number")


def _integer(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{attribute.name} must be a whole number")


def _count(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    _integer(_, attribute, value)
    if value < 0:
        raise SettingsError(f"{attribute.name} must not be negative")


def _grades(_: object, attribute: attrs.Attribute[tuple[int, ...]], value: tuple[int, ...]) -> None:
    if not all(isinstance(g, int) and not isinstance(g, bool) and -4 <= g <= 13 for g in value):
        raise SettingsError(
            f"{attribute.name} must list grades as whole numbers from -4 (infant) to 13"
        )


def _boolean(_: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise SettingsError(f"{attribute.name} must be true or false")


def _optional_bits(
    _: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None:
        _non_negative(_, attribute, value)


def _region(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value == "US":  # the default: no need to load phonenumbers (1.3 MB, 40 ms) to know it
        return
    import phonenumbers  # noqa: PLC0415

    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(f'{attribute.name} must be a two-letter region code such as "US"')


GuardianBits = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]


def _guardian_bits(value: Any) -> GuardianBits:
    """The full table of guardian bits: the defaults with the given entries replaced.

    Accepts a mapping ``{comparison: {level: bits}}`` (as written in a
    settings file) or the table itself; kept as nested tuples so that
    settings stay immutable and hashable.
    """
    given = dict(value) if isinstance(value, Mapping) else {k: dict(v) for k, v in value}
    unknown = sorted(set(given) - set(GUARDIAN_COMPARISONS))
    if unknown:
        raise SettingsError(
            f"guardian_bits has unknown comparisons {unknown}; "
            f"choose from {list(GUARDIAN_COMPARISONS)}"
        )
    table = []
    for name, levels in GUARDIAN_COMPARISONS.items():
        override = given.get(name, {})
        if not isinstance(override, Mapping):
            raise SettingsError(f"guardian_bits.{name} must be a table of level = bits")
        wrong = sorted(set(override) - set(levels))
        if wrong:
            raise SettingsError(
                f"guardian_bits.{name} has unknown levels {wrong}; choose from {list(levels)}"
            )
        row = []
        for level in levels:
            bits = override.get(level, DEFAULT_GUARDIAN_BITS[name][level])
            if isinstance(bits, bool) or not (
                isinstance(bits, int | float) and math.isfinite(bits)
            ):
                raise SettingsError(f"guardian_bits.{name}.{level} must be a finite number")
            row.append((level, float(bits)))
        table.append((name, tuple(row)))
    return tuple(table)


def _choice(*allowed: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in allowed:
            raise SettingsError(f"{attribute.name} must be one of {list(allowed)}")

    return check


def _subset(allowed: tuple[str, ...]) -> Any:
    def check(
        _: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
    ) -> None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise SettingsError(
                f"{attribute.name} has unknown entries {unknown}; choose from {list(allowed)}"
            )

    return check


@frozen
class Settings:
    """How a plan is made. All fields have working defaults.

    Attributes:
        auto_threshold: match probability at or above which an unambiguous
            pair is merged without review.
        review_threshold: probability below which a pair is not proposed at all.
        margin_bits: how much stronger (in bits of log-odds; 6 bits is 64x)
            an assigned pair must be than every competing pair on either
            side to be auto-merged. Closer competitors send it to review.
        grade_progression: expected synced grade minus archived grade:
            1 when the archive is from last school year, 0 for a same-year sync.
        level_change_grades: grades in which children enter a new school (middle
            and high school: 6 and 9 by default; 7 and 9, or 6 and 10, elsewhere):
            a different school with the synced grade one of these is ``level_change``,
            not ``different``.
        close_threshold: Jaro-Winkler similarity from which two names count as a typo.
        similar_threshold: Jaro-Winkler similarity from which two different given names
            count as loosely similar (``similar``: a review reason, never an anchor).
        guardian_close_threshold: the same for guardian given names and
            surnames (a close given name still needs a slip inside the name,
            a shared gendered role or both adults of one sex to be ``auto``).
        guardian_margin_bits: how much stronger (in bits) an assigned guardian
            pair must be than every competing pair to be ``auto``.
        guardian_name_conflict_max_probability: the highest probability a
            guardian pair whose given names clearly differ can get (two
            adults of one household share surname, phone and email).
        guardian_bits: bits of evidence of each guardian comparison level,
            ``{comparison: {level: bits}}``; entries given replace the
            documented defaults (see ``docs/settings.md``).
        guardian_present_rate: the share of an old account's adults that the
            sync still lists; sets the prior of a guardian pair (``rate / n``
            for an account with ``n`` counterparts on its merged children).
        comparisons: the fields compared; leave one out to ignore that field.
        blocking_rules: the candidate rules used (see ``merge_engine.matching._blocking``).
        max_block_pairs: a blocking key shared by more pairs than this is skipped.
        family_cap_bits: the most that household evidence (surname, guardians,
            address, school) may add together; ``None`` learns it from the data.
        name_conflict_max_probability: the highest probability a pair whose
            given names clearly disagree can get.
        conflict_with_identifier_max_probability: the same, when an
            identifier (sis_id, state_id, ...) matches exactly.
        max_expected_namesakes: a pair on which nothing but names and school
            data agree (no birth date, identifier, guardian contact or address)
            is merged automatically only when its given name and surname agree
            exactly and the district's own name frequencies predict at most
            this many other children of its grade band (one grade either
            side) carrying that full name; otherwise it goes to review.
        namesake_grade_band: how many grades either side of a pair's own count as the
            band in which another child could carry its name (1).
        household_max_children: households are found on both sides at once through
            shared guardian phones, emails and street addresses (and, within one
            side, shared guardian accounts); a value shared by
            more students than this on one side (a school office number, a
            placeholder email) is not a household tie. A pair inside one household
            is anchored by it (same family, never same child: the name, grade and
            twin gates still decide which child it is) and pairs inside a household
            are compared even when no name rule brought them together.
            0 turns households off.
        household_max_family_size: a family joined through shared contacts that holds
            more students than this on one side is a chain of families (one shared
            value after another: a grandmother's phone, then an aunt's email), not a
            household, and anchors nothing (16, twice the largest household).
        typo_needs_child_evidence: a pair whose given names are one typo apart
            is never ``auto`` when the child's gender, middle name or identifier
            disagrees (a twin); with this on, it is ``auto`` only when one of
            them agrees.
        random_pairs: the most random pairs sampled to learn non-match frequencies
            (a district samples 25 per record of its larger roster, up to this).
        em_max_iterations: iteration limit of the EM estimation.
        seed: seed of the random pair sample (plans are deterministic).
        phone_region: region for phone numbers without a country code.
        household_rules: the school-roster safety rules: household evidence
            is capped, a clearly different given name caps the probability, and
            a disagreeing birth date, surname, given name or identifier sends a
            pair to review. Leave on for rosters; turn off only for general
            person linkage where records are not families (the Febrl benchmark).
        guardian_policy: ``keep_old`` (default) merges each sync-created
            guardian account into the same adult's old account, so the
            guardian keeps the old login and history; ``remove_old`` detaches
            the old guardian accounts from the merged students instead.
        unmatched_old_guardians: what happens to an old guardian account of a
            merged student with no counterpart among the synced contacts:
            ``keep`` (and flag), ``remove`` (detach) or ``review``.
        multiple_role_policy: for adults holding several roles (staff and
            guardian): ``separate`` keeps their accounts apart, ``link`` records
            that they are one person, ``merge`` asks for one account per person.
    """

    auto_threshold: float = field(default=0.99, validator=_probability)
    review_threshold: float = field(default=0.3, validator=_probability)
    margin_bits: float = field(default=6.0, validator=_non_negative)
    grade_progression: int = field(default=1, validator=_integer)
    level_change_grades: tuple[int, ...] = field(default=(6, 9), converter=tuple, validator=_grades)
    close_threshold: float = field(default=0.92, validator=_probability)
    similar_threshold: float = field(default=0.75, validator=_probability)
    guardian_close_threshold: float = field(default=0.92, validator=_probability)
    guardian_margin_bits: float = field(default=4.0, validator=_non_negative)
    guardian_name_conflict_max_probability: float = field(default=0.05, validator=_probability)
    guardian_bits: GuardianBits = field(
        default=DEFAULT_GUARDIAN_BITS, converter=_guardian_bits, eq=True
    )
    guardian_present_rate: float = field(default=0.8, validator=_probability)
    comparisons: tuple[str, ...] = field(
        default=COMPARISON_NAMES, converter=tuple, validator=_subset(COMPARISON_NAMES)
    )
    blocking_rules: tuple[str, ...] = field(
        default=BLOCKING_RULE_NAMES, converter=tuple, validator=_subset(BLOCKING_RULE_NAMES)
    )
    max_block_pairs: int = field(default=50_000, validator=_count)
    family_cap_bits: float | None = field(default=None, validator=_optional_bits)
    name_conflict_max_probability: float = field(default=0.05, validator=_probability)
    conflict_with_identifier_max_probability: float = field(default=0.9, validator=_probability)
    max_expected_namesakes: float = field(default=0.01, validator=_non_negative)
    namesake_grade_band: int = field(default=1, validator=_count)
    typo_needs_child_evidence: bool = field(default=False, validator=_boolean)
    household_max_children: int = field(default=8, validator=_count)
    household_max_family_size: int = field(default=16, validator=_count)
    random_pairs: int = field(default=300_000, validator=_count)
    em_max_iterations: int = field(default=40, validator=_count)
    seed: int = field(default=0, validator=_integer)
    phone_region: str = field(default="US", validator=_region)
    household_rules: bool = field(default=True, validator=_boolean)
    guardian_policy: str = field(default="keep_old", validator=_choice("keep_old", "remove_old"))
    unmatched_old_guardians: str = field(
        default="keep", validator=_choice("keep", "remove", "review")
    )
    multiple_role_policy: str = field(
        default="separate", validator=_choice("separate", "link", "merge")
    )

    def __attrs_post_init__(self) -> None:
        if self.review_threshold >= self.auto_threshold:
            raise SettingsError("review_threshold must be below auto_threshold")
        if "first_name" not in self.comparisons:
            raise SettingsError("first_name cannot be left out: it tells siblings apart")
        if not self.blocking_rules:
            raise SettingsError("at least one blocking rule is needed")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists, the guardian bits a nested table)."""
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.asdict(self).items()}
        values["guardian_bits"] = self.guardian_bits_table()
        return values

    def guardian_bits_table(self) -> dict[str, dict[str, float]]:
        """:attr:`guardian_bits` as ``{comparison: {level: bits}}``."""
        return {name: dict(levels) for name, levels in self.guardian_bits}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Settings:
        """Build settings from a mapping; unknown keys are an error, not ignored."""
        known = {a.name for a in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"unknown settings {unknown}; known settings are {sorted(known)}")
        try:
            return cls(**dict(data))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SettingsError):
                raise
            raise SettingsError(f"invalid settings: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> Settings:
        """Load from a ``.toml`` or ``.json`` file (a ``[settings]`` table is also accepted)."""
        data = read_config(path, SettingsError, "settings")
        if isinstance(data.get("settings"), dict):
            data = data["settings"]
        return cls.from_mapping(data)
