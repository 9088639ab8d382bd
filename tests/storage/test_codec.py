"""Journal entries survive JSON exactly, whatever the column types of the rows set aside."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merge_engine.exceptions import StorageError
from merge_engine.storage import GuardianLink, HistoryRow, JournalEntry
from merge_engine.storage.codec import decode_entry, decode_value, encode_entry, encode_value

VALUES: list[Any] = [
    None, True, 0, -5, 2**70, 1.5, float("inf"), "text", "", "{\"$date\": \"x\"}",
    dt.date(2024, 1, 5), dt.datetime(2024, 1, 5, 8, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 1, 5, 8, 30, 1, 123456), dt.time(8, 30), decimal.Decimal("1.10"),
    b"\x00\xff", uuid.UUID(int=7), {"$date": "not a tag", "n": [1, dt.date(2024, 1, 1)]},
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_values_round_trip_with_their_type(value: Any) -> None:
    back = decode_value(encode_value(value))
    assert back == value and type(back) is type(value)


def test_an_entry_round_trips_exactly() -> None:
    rows = [
        HistoryRow("attendance", (3,), {"id": 3, "student_id": "a1", "day": dt.date(2024, 1, 5)}),
        HistoryRow("ledger", ("x", 2), {"k1": "x", "k2": 2, "amount": decimal.Decimal("9.99")}),
    ]
    entry = JournalEntry(
        "plan", "a1", "s1", {"messages": ((1,), (2,)), "ledger": (("x", 2),)}, rows,
        [GuardianLink("s1", "g2", None)], undone=True,
    )  # fmt: skip
    text = encode_entry(entry)
    assert decode_entry(text) == entry
    assert encode_entry(decode_entry(text)) == text  # deterministic


def test_unsupported_values_and_damaged_entries_raise_storage_errors() -> None:
    with pytest.raises(StorageError, match="type object"):
        encode_value(object())
    with pytest.raises(StorageError, match="edited"):
        decode_entry('{"plan_fingerprint": "p"}')


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.dates() | st.datetimes(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
))  # fmt: skip
def test_any_nesting_round_trips(value: Any) -> None:
    assert decode_value(encode_value(value)) == value
