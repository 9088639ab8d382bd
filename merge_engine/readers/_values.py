"""Parsers for the typed cell values of roster files: dates, grades, genders, names.

Every roster dialect spells these differently (``03`` vs ``3rd grade`` vs
``Grade 3``; ``5/3/2010`` vs ``2010-05-03``), so parsing lives in one place
and the readers only decide what to do when a value cannot be parsed.
Parsers raise :class:`ValueError` with messages that never repeat the value
(birth dates are PII). Results are cached because a district repeats the
same few thousand date and grade strings across hundreds of thousands of rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

__all__ = [
    "GRADE_NAMES",
    "MAX_GRADE",
    "MIN_GRADE",
    "check_birth_date",
    "format_grade",
    "parse_date",
    "parse_gender",
    "parse_grade",
    "split_name",
]

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)
_SLASH_YMD = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})", re.ASCII)
_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)

#: Lowest and highest grade ordinal (InfantToddler and PostGraduate).
MIN_GRADE = -4
MAX_GRADE = 14

#: The Clever spelling of each non-numeric grade ordinal, used by the writer.
GRADE_NAMES: dict[int, str] = {
    -4: "InfantToddler",
    -3: "Preschool",
    -2: "PreKindergarten",
    -1: "TransitionalKindergarten",
    0: "Kindergarten",
    14: "PostGraduate",
}

_UNGRADED = object()
# Keys are lower-case with spaces, hyphens, underscores and dots removed.
# Two-letter codes are the CEDS/OneRoster ones (PR preschool, PS postsecondary).
_GRADE_WORDS: dict[str, int | object] = {
    "infanttoddler": -4,
    "infant": -4,
    "it": -4,
    "preschool": -3,
    "pr": -3,
    "prekindergarten": -2,
    "prek": -2,
    "pk": -2,
    "transitionalkindergarten": -1,
    "tk": -1,
    "kindergarten": 0,
    "kinder": 0,
    "k": 0,
    "kg": 0,
    "postgraduate": 14,
    "postsecondary": 14,
    "ps": 14,
    "ungraded": _UNGRADED,
    "ug": _UNGRADED,
    "other": _UNGRADED,
}
_ORDINAL_SUFFIXES = ("st", "nd", "rd", "th")
_GRADE_PUNCTUATION = str.maketrans("", "", " -_.")

_GENDERS: dict[str, str | None] = {
    "f": "F",
    "female": "F",
    "girl": "F",
    "woman": "F",
    "m": "M",
    "male": "M",
    "boy": "M",
    "man": "M",
    "x": "X",
    "n": "X",
    "nonbinary": "X",
    "non-binary": "X",
    "non binary": "X",
    "other": "X",
    # Explicitly "not stated": no value, but no warning either.
    "u": None,
    "unknown": None,
    "unspecified": None,
    "not specified": None,
    "prefer not to say": None,
}


def parse_date(text: str | None) -> dt.date | None:
    """Parse YYYY-MM-DD, MM/DD/YYYY, M/D/YYYY, YYYY/MM/DD or YYYYMMDD.

    Empty text gives ``None``; anything else that is not a real calendar date
    raises :class:`ValueError`. Two-digit years are rejected: their century
    is a guess, and a wrong birth year silently breaks matching.
    """
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    return _parse_date(text)


@functools.lru_cache(maxsize=65_536)
def _parse_date(text: str) -> dt.date:
    match = _ISO.fullmatch(text) or _SLASH_YMD.fullmatch(text) or _COMPACT.fullmatch(text)
    if match is not None:
        year, month, day = (int(group) for group in match.groups())
    else:
        match = _US.fullmatch(text)
        if match is None:
            raise ValueError("unrecognised date format (expected YYYY-MM-DD or MM/DD/YYYY)")
        month, day, year = (int(group) for group in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError("not a calendar date") from None


def check_birth_date(value: dt.date, *, today: dt.date | None = None) -> dt.date:
    """Reject birth dates in the future or before 1900 (typos and placeholders)."""
    today = today or dt.date.today()
    if value > today:
        raise ValueError("date is in the future")
    if value.year < 1900:
        raise ValueError("date is before 1900")
    return value


def parse_grade(text: str | None) -> int | None:
    """Parse a grade level to its ordinal (see :class:`~merge_engine.model.Student`).

    Accepts Clever names (``PreKindergarten``), CEDS/OneRoster codes (``PK``,
    ``KG``, ``03``), and hand-typed forms (``Grade 3``, ``3rd``, ``3rd grade``).
    ``0``/``00`` are read as Kindergarten. Empty, Ungraded and Other give
    ``None``; anything unrecognised raises :class:`ValueError`.
    """
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    return _parse_grade(text)


@functools.lru_cache(maxsize=4096)
def _parse_grade(text: str) -> int | None:
    if text[0] in "+-":
        # "-1" means PK in some systems and TK in others: refuse to guess.
        raise ValueError("signed grade numbers are ambiguous (use PK, TK, K or 1 to 13)")
    key = text.casefold().translate(_GRADE_PUNCTUATION)
    word = _GRADE_WORDS.get(key)
    if word is _UNGRADED:
        return None
    if isinstance(word, int):
        return word
    key = key.removeprefix("grade").removesuffix("grade")
    if key.endswith(_ORDINAL_SUFFIXES):
        key = key[:-2]
    if key.isascii() and key.isdigit():
        number = int(key)
        if 0 <= number <= 13:
            return number
        raise ValueError("grade number out of range (expected 0 to 13)")
    word = _GRADE_WORDS.get(key)
    if isinstance(word, int):
        return word
    raise ValueError("unrecognised grade (expected e.g. Kindergarten, KG, PK, 1 to 13)")


def format_grade(grade: int | None) -> str:
    """The Clever-style text for a grade ordinal; :func:`parse_grade` reads it back."""
    if grade is None:
        return ""
    if not MIN_GRADE <= grade <= MAX_GRADE:
        raise ValueError(f"grade ordinal {grade} is outside {MIN_GRADE}..{MAX_GRADE}")
    return GRADE_NAMES.get(grade, str(grade))


def parse_gender(text: str | None, *, strict: bool = False) -> str | None:
    """Map a gender spelling to ``"F"``, ``"M"``, ``"X"`` or ``None``.

    Unknown spellings give ``None``, or raise :class:`ValueError` with
    ``strict=True`` so a reader can warn about them; "unknown" and
    "unspecified" are deliberate blanks and never raise.
    """
    if text is None:
        return None
    key = " ".join(text.split()).casefold()
    if not key:
        return None
    if key in _GENDERS:
        return _GENDERS[key]
    if strict:
        raise ValueError("unrecognised gender (expected F, M or X)")
    return None


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """Split a one-column contact name into (first, last).

    ``"Smith, Mary"`` is last-comma-first; otherwise the last space splits,
    so ``"Mary Ann Smith"`` gives ``("Mary Ann", "Smith")``. A single word is
    taken as the first name (contact lists often say just "Grandma").
    """
    if name is None:
        return None, None
    name = name.strip()
    if not name:
        return None, None
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip() or None, last.strip() or None
    first, space, last = name.rpartition(" ")
    if not space:
        return name, None
    return first.strip() or None, last.strip() or None
