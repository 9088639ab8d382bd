"""Fixtures: one ``storage`` per adapter kind, each in a fresh database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from merge_engine.storage import StorageAdapter

from .support import KINDS, district_storage, pg_schema


def _kind_param(kind: str) -> Any:
    marks = [pytest.mark.postgres] if kind == "postgres" else []
    return pytest.param(kind, marks=marks, id=kind)


@pytest.fixture
def pg() -> Iterator[tuple[Any, str]]:
    """A fresh PostgreSQL schema (skips when the server is unreachable)."""
    yield from pg_schema()


@pytest.fixture(params=[_kind_param(k) for k in KINDS])
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def pg_if_needed(kind: str, request: pytest.FixtureRequest) -> tuple[Any, str] | None:
    if kind != "postgres":
        return None
    value: tuple[Any, str] = request.getfixturevalue("pg")
    return value


@pytest.fixture
def storage(
    kind: str, tmp_path: Path, pg_if_needed: tuple[Any, str] | None
) -> Iterator[StorageAdapter]:
    """The tiny district of :mod:`support` in a fresh database of each adapter kind."""
    adapter = district_storage(kind, tmp_path, pg_if_needed)
    try:
        yield adapter
    finally:
        adapter.close()
