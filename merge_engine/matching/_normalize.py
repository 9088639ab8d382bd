"""Normalisation of names, phones, emails, identifiers and addresses.

Matching compares normalised values, never raw ones: case, accents,
punctuation and formatting are what hand-typed rosters differ in most.
Every function is pure and cached where the same value recurs a lot
(first names, phone formats), because a district has hundreds of
thousands of rows but only thousands of distinct names.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "NicknameIndex",
    "is_valid_email",
    "is_valid_phone",
    "name_tokens",
    "normalize_email",
    "normalize_emails",
    "normalize_identifier",
    "normalize_identifiers",
    "normalize_name",
    "normalize_phone",
    "normalize_phones",
    "normalize_street",
    "normalize_streets",
    "normalize_zip",
    "surname_key",
]

_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "2nd", "3rd"})
_LATIN_EXTRA = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",
        "ß": "ss",
    }
)
_NON_WORD = re.compile(r"[^\w ]+|_")
#: normalize_name on ASCII text: letters and digits kept, joiners (``_JOINERS``) and spaces
#: to a space, everything else (``_NON_WORD``, and the apostrophe) dropped.
_ASCII_NAME = str.maketrans(
    {
        chr(c): chr(c) if chr(c).isalnum() else " " if chr(c) in "-_/.,& " else None
        for c in range(128)
    }
)
_SPACES = re.compile(r"\s+")
_JOINERS = re.compile(r"[-_/.,&]+")


@functools.lru_cache(maxsize=200_000)
def normalize_name(value: str | None) -> str:
    """Lower-case words without accents, separated by single spaces; suffixes dropped.

    ``"  José-María O'Brien Jr. "`` becomes ``"jose maria obrien"``. Letters
    of every script are kept (``王芳`` stays ``王芳``): a name must never
    normalise to nothing just because it is not written in Latin letters.
    """
    if not value:
        return ""
    if value.isascii():  # most values: no accents to strip, and casefold is lower
        # What the regular expressions below do, in one pass: joiners become spaces,
        # apostrophes and every other character but letters, digits and spaces go.
        return " ".join(_without_suffixes(value.lower().translate(_ASCII_NAME).split()))
    else:
        text = unicodedata.normalize("NFKD", value)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = text.casefold().translate(_LATIN_EXTRA).replace("'", "").replace("\u2019", "")
    text = _JOINERS.sub(" ", text)
    text = _NON_WORD.sub("", text)
    tokens = _without_suffixes(_SPACES.split(text.strip()))
    return " ".join(t for t in tokens if t)


def _without_suffixes(tokens: list[str]) -> list[str]:
    """``tokens`` without trailing suffixes (``jr``, ``iii``...), keeping at least one."""
    while len(tokens) > 1 and tokens[-1] in _SUFFIXES:
        tokens.pop()
    return tokens


def name_tokens(value: str | None) -> tuple[str, ...]:
    """The words of a normalised name (compound surnames have several)."""
    normal = normalize_name(value)
    return tuple(normal.split()) if normal else ()


def surname_key(value: str | None) -> str:
    """A surname with its spaces removed, so ``De La Cruz`` equals ``DeLaCruz``."""
    return normalize_name(value).replace(" ", "")


_DIGITS = re.compile(r"\D+")
#: Digits with the separators phonenumbers reads as plain punctuation (no ``+``, letters,
#: ``/`` or ``x``, which change how it reads a number).
_PLAIN_PHONE = re.compile(r"[0-9 ().-]+")
#: ``_DIGITS.sub("", text)`` on ASCII text, in one C call.
_ASCII_NON_DIGITS = str.maketrans({chr(c): None for c in range(128) if not chr(c).isdigit()})


@functools.lru_cache(maxsize=500_000)
def normalize_phone(value: str | None, region: str = "US") -> str:
    """E.164 digits (``+15551234567``) or ``""`` when there is no usable number.

    North American numbers, by far the most common here, take a fast path;
    anything else goes through ``phonenumbers``.
    """
    if not value:
        return ""
    text = value.strip()
    lowered = text.lower()
    for marker in ("ext", "x", "#"):
        cut = lowered.find(marker)
        if cut > 0:
            text = text[:cut]
            break
    digits = text.translate(_ASCII_NON_DIGITS) if text.isascii() else _DIGITS.sub("", text)
    if (region == "US" and not text.startswith("+")) or text.startswith("+1"):
        if len(digits) == 10 and digits[0] not in "01":
            return "+1" + digits
        if len(digits) == 11 and digits[0] == "1" and digits[1] not in "01":
            return "+" + digits
    if len(digits) < 8:
        return ""  # a local number without an area code cannot be compared or texted
    if region == "US" and _PLAIN_PHONE.fullmatch(text):
        # What phonenumbers makes of the two kinds of typo rosters hold most, without
        # loading it (1.3 MB and 40 ms, a tenth of a small district's plan): checked
        # against it on 400,000 such numbers (tests/test_normalize.py keeps checking).
        if len(digits) in (8, 9) and digits[0] not in "01":
            return ""  # neither the national (10) nor a local (7) length
        if len(digits) == 10 and digits[0] == "0" and not digits.startswith("011"):
            return "+1" + digits  # ``000-000-0000``: a possible length, no prefix to strip
    import phonenumbers  # noqa: PLC0415  (slow path only)

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def normalize_phones(values: list[str], region: str = "US") -> list[str]:
    """``normalize_phone`` of each value, the usual North American numbers in a few C calls.

    Encoding a district normalises hundreds of thousands of distinct numbers; a Python
    call each is most of the cost. ASCII values are cut down to their digits all at once
    (one ``translate`` of the joined text, which keeps the ``x``, ``#`` and ``+`` that
    change the reading); those that are then ten digits (or eleven with the leading 1)
    are done, the others go through ``normalize_phone``.
    """
    slow = normalize_phone.__wrapped__
    joined = "\n".join(values)
    digits = joined.translate(_PHONE_KEEP).split("\n") if joined.isascii() else []
    if region != "US" or len(digits) != len(values):  # not ASCII, or a line break in a value
        return [slow(v, region) for v in values]
    return [
        "+1" + d
        if len(d) == 10 and d[0] not in "01" and d.isdigit()
        else "+" + d
        if len(d) == 11 and d[0] == "1" and d[1] not in "01" and d.isdigit()
        # E.164 as the sync writes it (+14085551234): what normalize_phone makes of it too.
        else d
        if len(d) == 12 and d[1] == "1" and d[2] not in "01" and _e164_us(d, v)
        else slow(v, region)
        for d, v in zip(digits, values, strict=True)
    ]


def _e164_us(kept: str, value: str) -> bool:
    """Whether ``value``, cut to ``kept`` (twelve characters, ``?1`` then a non-0/1), is a
    North American number written from ``+1``: eleven digits after the one ``+`` it starts
    with, so that :func:`normalize_phone` reads it as ``kept``."""
    return kept[0] == "+" and kept[1:].isdigit() and value.strip().startswith("+1")


#: ASCII digits, line breaks and what makes ``normalize_phone`` read a number otherwise.
_PHONE_KEEP = str.maketrans(
    {chr(c): None for c in range(128) if not chr(c).isdigit() and chr(c) not in "\nxX#+"}
)


@functools.lru_cache(maxsize=100_000)
def is_valid_phone(value: str | None, region: str = "US") -> bool:
    """Whether the number is a real, assignable number (not just well formed)."""
    normal = normalize_phone(value, region)
    if not normal:
        return False
    import phonenumbers  # noqa: PLC0415

    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(normal, region)))
    except phonenumbers.NumberParseException:
        return False


def normalize_email(value: str | None) -> str:
    """Trimmed and lower-cased; ``""`` when absent. Dots and ``+tags`` are kept.

    Providers disagree on whether dots and tags matter, so treating them
    as equal would join addresses that belong to different people.
    """
    if not value:
        return ""
    return value.strip().lower()


def normalize_emails(values: list[str]) -> list[str]:
    """``normalize_email`` of each value; ASCII values lower-cased in one call."""
    joined = "\n".join(values)
    if joined.isascii():
        parts = joined.lower().split("\n")
        if len(parts) == len(values):
            return list(map(str.strip, parts))
    return list(map(normalize_email, values))


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def is_valid_email(value: str | None) -> bool:
    """A plausibly deliverable address: one ``@``, a dotted domain, no spaces."""
    normal = normalize_email(value)
    return bool(normal) and _EMAIL.match(normal) is not None and ".." not in normal


_ID_DROP = str.maketrans("", "", " \t-")


def normalize_identifier(value: str | None) -> str:
    """Upper-case, without spaces, dashes or leading zeros (``00123`` equals ``123``)."""
    if not value:
        return ""
    text = value.translate(_ID_DROP).upper()
    stripped = text.lstrip("0")
    return stripped or ("0" if text else "")


#: A line's leading zeros but its last character (``p.lstrip("0") or "0"`` on each line).
_LEADING_ZEROS = re.compile(r"^0+(?=.)", re.MULTILINE)


def normalize_identifiers(values: list[str], prefix: str = "") -> list[str]:
    """``prefix + normalize_identifier(value)`` for each value (``""`` stays ``""``).

    ASCII values are joined by line breaks and dropped, upper-cased, stripped of leading
    zeros and prefixed all at once, in a few C calls for a district's hundreds of
    thousands of identifiers (a comprehension or two each cost as much as all of that).
    """
    joined = "\n".join(values)
    if not joined.isascii() or joined.count("\n") != len(values) - 1:
        # Not ASCII, or a value held a line break: value by value.
        parts = [v.translate(_ID_DROP).upper() for v in values]
        stripped = [p.lstrip("0") or ("0" if p else "") for p in parts]
        return [prefix + s if s else "" for s in stripped] if prefix else stripped
    text = _LEADING_ZEROS.sub("", joined.translate(_ID_DROP).upper())
    if not prefix:
        return text.split("\n")
    if not text or text[0] == "\n" or text[-1] == "\n" or "\n\n" in text:
        return [prefix + s if s else "" for s in text.split("\n")]  # an empty one stays ""
    return (prefix + text.replace("\n", "\n" + prefix)).split("\n")


_STREET_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "boulevard": "blvd",
    "place": "pl",
    "terrace": "ter",
    "circle": "cir",
    "highway": "hwy",
    "parkway": "pkwy",
    "apartment": "apt",
    "suite": "ste",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "unit": "apt",
}


_STREET_ABBREVIATION = _STREET_WORDS.get


@functools.lru_cache(maxsize=200_000)
def normalize_street(value: str | None) -> str:
    """A street line with USPS-style abbreviations: ``123 Main Street`` -> ``123 main st``."""
    return _abbreviated(normalize_name(value).split())


def _abbreviated(words: list[str]) -> str:
    """A street line's words joined, each with its USPS abbreviation (a C map: half the time
    of a generator, for about a street per family)."""
    return " ".join(map(_STREET_ABBREVIATION, words, words))


#: ``_ASCII_NAME`` keeping line breaks, to normalise many values joined by them at once.
_ASCII_NAME_LINES = {**_ASCII_NAME, ord("\n"): "\n"}


def normalize_streets(values: list[str]) -> list[str]:
    """``normalize_street`` of each value, ASCII values lower-cased and cleaned in one call
    for all of them (a district has about one distinct street per family)."""
    joined = "\n".join(values)
    parts = joined.lower().translate(_ASCII_NAME_LINES).split("\n") if joined.isascii() else []
    if len(parts) != len(values):  # not ASCII, or a value held a line break
        return [normalize_street.__wrapped__(v) for v in values]
    return [_abbreviated(_without_suffixes(part.split())) for part in parts]


def normalize_zip(value: str | None) -> str:
    """A comparable postal code.

    US ZIP+4 keeps its five-digit ZIP; a three- or four-digit code gets its
    leading zeros back (spreadsheets drop them: ``2134`` is ``02134``);
    other postal codes (``K1A 0B1``) are kept upper-case without spaces.
    """
    if not value:
        return ""
    text = value.strip()
    digits = _DIGITS.sub("", text)
    if digits and len(digits) == len(text.replace("-", "").replace(" ", "")):
        if len(digits) >= 5:
            return digits[:5]
        return digits.zfill(5) if len(digits) >= 3 else ""
    compact = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    return compact if len(compact) >= 3 else ""


class NicknameIndex:
    """Given-name variants from the ``nicknames`` dataset, as integer codes.

    Two names are nickname-equivalent when one is a listed canonical form
    of the other (``bill`` and ``william``), or they are equal. Two
    nicknames of the same canonical name (``al`` and ``bert``) are not:
    that would be a guess.
    """

    def __init__(self) -> None:
        self._dataset = _dataset_canonicals()
        self._extra = _extra_nicknames()
        self._canonicals: dict[str, frozenset[str]] = {}

    def canonicals(self, name: str) -> frozenset[str]:
        """The canonical forms of ``name`` (a normalised single name), itself included."""
        cached = self._canonicals.get(name)
        if cached is None:
            found = {name}
            if name:
                found.update(normalize_name(c) for c in self._dataset.get(name.lower().strip(), ()))
                found.update(self._extra.get(name, ()))
            cached = frozenset(found)
            self._canonicals[name] = cached
        return cached

    def equivalent(self, first: str, second: str) -> bool:
        """Whether two normalised given names are the same name or nickname and name."""
        if not first or not second:
            return False
        if first == second:
            return True
        return second in self.canonicals(first) or first in self.canonicals(second)


def _dataset_canonicals() -> dict[str, tuple[str, ...]]:
    """The ``nicknames`` dataset's table read as nickname -> canonical names, the one lookup
    the index uses (its ``NickNamer`` builds three dictionaries of sets: 6 MB and 0.1 s)."""
    import csv  # noqa: PLC0415

    with _names_csv() as file:
        rows = csv.reader(file)
        next(rows)  # header: name1,relationship,name2
        found: dict[str, list[str]] = {}
        for canonical, relationship, nickname in rows:
            if relationship == "has_nickname":
                found.setdefault(nickname.lower().strip(), []).append(canonical.lower().strip())
    return {nickname: tuple(names) for nickname, names in found.items()}


@contextlib.contextmanager
def _names_csv() -> Iterator[IO[str]]:
    """The dataset's ``names.csv``, found without importing the package when it is a plain
    folder: its ``__init__`` reads its version through ``importlib.metadata`` (3 MB)."""
    spec = importlib.util.find_spec("nicknames")
    origin = Path(spec.origin).with_name("names.csv") if spec and spec.origin else None
    if origin is not None and origin.is_file():
        with origin.open(encoding="utf-8", newline="") as file:
            yield file
        return
    from nicknames import with_names_csv_path  # noqa: PLC0415  (the documented raw table)

    with with_names_csv_path() as path, open(path, encoding="utf-8", newline="") as file:
        yield file


def _extra_nicknames() -> dict[str, frozenset[str]]:
    """Variants the dataset lacks (``data/nicknames_extra.csv``): nickname -> canonical forms."""
    return _extra_from(_package_text("data/nicknames_extra.csv"))


def _package_text(name: str) -> str:
    """A data file of this package: read from its folder when it is one, else through
    ``importlib.resources`` (which loads ``zipfile`` and ``tempfile``, for zipped packages)."""
    path = Path(__file__).resolve().parent.parent.joinpath(*name.split("/"))
    if path.is_file():
        return path.read_text("utf-8")
    from importlib import resources  # noqa: PLC0415

    return resources.files("merge_engine").joinpath(name).read_text("utf-8")


def _extra_from(text: str) -> dict[str, frozenset[str]]:
    """``nickname,canonical`` lines (``#`` comments) as nickname -> canonical forms."""
    pairs: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or line == "nickname,canonical":
            continue
        nickname, _, canonical = line.partition(",")
        pairs.setdefault(normalize_name(nickname), set()).add(normalize_name(canonical))
    return {k: frozenset(v) for k, v in pairs.items()}


@functools.cache
def nickname_index() -> NicknameIndex:
    """The process-wide nickname index (the dataset is read once)."""
    return NicknameIndex()
