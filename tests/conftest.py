"""Shared helpers for the matching-engine tests: terse students, rosters and level lookups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pytest
import structlog

from merge_engine.matching._comparisons import COMPARISONS, compare_pairs
from merge_engine.matching._features import EncodedSide, Vocabularies, encode_students
from merge_engine.model import Contact, Roster, Student
from merge_engine.plan import Merge, MergePlan
from merge_engine.settings import Settings
from merge_engine.testing.synthetic import SyntheticDistrict, generate_district

# Fewer random pairs than the default keeps planning small districts fast;
# the u estimates stay stable (thousands of pairs per level).
FAST = Settings(random_pairs=30_000)


def make_student(student_id: str, first: str, last: str, **kw: Any) -> Student:
    """A student with only the fields a test cares about."""
    return Student(id=student_id, first_name=first, last_name=last, **kw)


def contact(
    guardian_id: str, phone: str | None = None, email: str | None = None, **kw: Any
) -> Contact:
    return Contact(guardian_id=guardian_id, phone=phone, email=email, **kw)


def roster(students: Iterable[Student], **kw: Any) -> Roster:
    return Roster(students=tuple(students), **kw)


def encode_pair_sides(
    archived: Sequence[Student], synced: Sequence[Student], *, synced_dob: bool = True
) -> tuple[EncodedSide, EncodedSide, Vocabularies]:
    vocab = Vocabularies.new()
    ea = encode_students(archived, vocab)
    eb = encode_students(synced, vocab, has_dob_column=synced_dob)
    return ea, eb, vocab


def levels_of(a: Student, b: Student, **kw: Any) -> dict[str, str]:
    """The level name of every comparison for the single pair (a, b)."""
    ea, eb, vocab = encode_pair_sides([a], [b])
    matrix = compare_pairs(
        ea,
        eb,
        np.array([0], np.int64),
        np.array([0], np.int64),
        vocab.names,
        identifiers=vocab.identifiers,
        places=vocab.places,
        **kw,
    )
    return {c.name: c.levels[int(matrix.levels[0, j])] for j, c in enumerate(COMPARISONS)}


def level_code(comparison: str, level: str) -> int:
    comp = next(c for c in COMPARISONS if c.name == comparison)
    return comp.levels.index(level)


def merges_by_archived(plan: MergePlan) -> dict[str, list[Merge]]:
    out: dict[str, list[Merge]] = {}
    for m in plan.merges:
        out.setdefault(m.archived_id, []).append(m)
    return out


def evidence_level(merge: Merge, comparison: str) -> str:
    return next(e.level for e in merge.evidence if e.comparison == comparison)


def evidence_bits(merge: Merge, comparison: str) -> float:
    return next(e.bits for e in merge.evidence if e.comparison == comparison)


DOB = dt.date(2014, 6, 9)


@pytest.fixture(scope="session")
def background() -> SyntheticDistrict:
    """A small generated district to embed hand-built cases in, so the model has data to learn."""
    return generate_district(400, seed=11)


@pytest.fixture(scope="session")
def district_1000() -> SyntheticDistrict:
    return generate_district(1000, seed=5)


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterable[None]:
    """The CLI configures structlog (it is an application); undo that after each test."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_schemas() -> Iterable[None]:
    """Each PostgreSQL test works in a schema of its own; drop them all when the run ends."""
    yield
    from apply_support import drop_pg_schemas  # noqa: PLC0415

    drop_pg_schemas()
