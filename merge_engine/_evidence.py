"""Evidence values shared by every part of a plan (students, guardians, roles).

Numbers are rounded when the value is made, so a plan read back from JSON
equals the plan written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import field, frozen

__all__ = ["FieldEvidence", "bits", "optional_bits", "probability", "to_tuple"]


def to_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """attrs converter: any iterable to a tuple (values stay immutable)."""
    return tuple(value)


#: Decimals a plan keeps of bits of log-odds and of probabilities.
BITS_DIGITS = 3
PROBABILITY_DIGITS = 6


def bits(value: float) -> float:
    """Bits of log-odds, kept to 3 decimals."""
    return round(float(value), BITS_DIGITS)


def probability(value: float) -> float:
    """A probability, kept to 6 decimals."""
    return round(float(value), PROBABILITY_DIGITS)


def optional_bits(value: float | None) -> float | None:
    return None if value is None else bits(value)


@frozen
class FieldEvidence:
    """One comparison's verdict on a pair and what it contributed (bits of log-odds)."""

    comparison: str
    level: str
    bits: float = field(converter=bits)

    def to_dict(self) -> dict[str, Any]:
        return {"comparison": self.comparison, "level": self.level, "bits": self.bits}

    @classmethod
    def from_dict(cls, data: Any) -> FieldEvidence:
        return cls(str(data["comparison"]), str(data["level"]), float(data["bits"]))
