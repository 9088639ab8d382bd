"""The names settings choose from, and the guardian matcher's default bits.

:class:`merge_engine.Settings` validates against these, and sits below the
matchers (``matching/``, ``accounts/``), so the names live here, under both:
the student comparisons and blocking rules are defined in
:mod:`merge_engine.matching._comparisons` and :mod:`merge_engine.matching._blocking`
under the same names (``tests/test_settings.py`` checks that they agree); the
guardian comparisons' levels and default bits are defined here and read by
:mod:`merge_engine.accounts`.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BLOCKING_RULE_NAMES",
    "COMPARISON_NAMES",
    "DEFAULT_GUARDIAN_BITS",
    "GUARDIAN_COMPARISONS",
]

COMPARISON_NAMES: tuple[str, ...] = (
    "first_name", "middle_name", "last_name", "dob", "grade", "school", "gender", "identifier",
    "guardian", "address",
)  # fmt: skip
"""The student comparisons, in the order the model scores them."""

BLOCKING_RULE_NAMES: tuple[str, ...] = (
    "given name variant + surname word",
    "given name and surname in either order",
    "given name variant + joined surname",
    "given name variant + surname + school",
    "surname + birth date",
    "given name + birth date",
    "surname + given initial",
    "given name + school",
    "guardian phone",
    "guardian email",
    "guardian account",
    "street + zip",
    "street + birth date",
    "zip + birth date",
    "sis id",
    "state id",
    "student number",
    "student email",
)
"""The blocking rules, in the order they run; settings may pick a subset."""

GUARDIAN_COMPARISONS: Mapping[str, tuple[str, ...]] = {
    "first_name": ("missing", "exact", "nickname", "close", "in_email", "initial", "different"),
    "last_name": ("missing", "exact", "compound", "close", "in_email", "different"),
    "email": ("missing", "exact", "different"),
    "phone": ("missing", "exact", "different"),
    "sis_id": ("missing", "exact", "different"),
    "relationship": ("missing", "same_role", "same", "compatible", "conflicting"),
    "singled_out": ("no", "phone", "email_name"),
}
"""Levels of each guardian comparison, best first (``missing`` when either side lacks it).

``first_name`` is ``in_email`` when the old account has no given name but its
email address spells the sync account's (``paula5278@...`` for Paula, ``gjackson@``
for Gregory Jackson); ``relationship`` is ``same_role`` when both name the
same gendered relationship (both "mother") and ``same`` when they share only
an ungendered one (both "parent"). ``last_name`` is ``in_email`` when the
given names are the same, the surnames differ, and the old account's own email
spells the sync account's full name (``vmarquez@`` on "Veronica Concepcion",
the sync's Veronica Marquez). ``singled_out`` is ``phone`` when the old account
is known by its phone alone (no name, no email) and that phone singles out the
adult: no other account of the district holds it, and every other adult the old
account met on its children has a phone, a different one; ``email_name`` when
the old account has no name and its email spells the sync account's full name
and no other adult's of its children. Both look at the whole district, so a
comparison of two accounts alone says ``no`` (see
:mod:`merge_engine.accounts._guardian_single`).
"""

# Bits per level: about log2(m/u), from how often the same adult (m) and two
# different adults met on one merged child (u) show each level. Hand-set, and
# compared with both generators' measurements in docs/settings.md
# (benchmarks/guardians_diagnose.py --bits): a district has too few guardian
# pairs per child for EM, and the decisive rules (the adult must be identified)
# are not statistical. Settings.guardian_bits overrides any entry.
DEFAULT_GUARDIAN_BITS: Mapping[str, Mapping[str, float]] = {
    "first_name": {
        "missing": 0.0, "exact": 7.0, "nickname": 5.0, "close": 2.0, "in_email": 4.0,
        "initial": -1.0, "different": -8.0,
    },
    "last_name": {
        "missing": 0.0, "exact": 2.5, "compound": 1.5, "close": 0.5,
        "in_email": 1.5, "different": -3.0,
    },
    "email": {"missing": 0.0, "exact": 6.0, "different": -0.5},
    "phone": {"missing": 0.0, "exact": 4.0, "different": -0.5},
    "sis_id": {"missing": 0.0, "exact": 8.0, "different": -6.0},
    "relationship": {
        "missing": 0.0, "same_role": 3.5, "same": 1.0, "compatible": 0.0, "conflicting": -4.0,
    },
    "singled_out": {"no": 0.0, "phone": 4.0, "email_name": 4.0},
}  # fmt: skip
