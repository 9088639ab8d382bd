"""Normalisation of names, phones, emails, identifiers and addresses."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merge_engine.matching._normalize import (
    NicknameIndex,
    is_valid_email,
    is_valid_phone,
    name_tokens,
    nickname_index,
    normalize_email,
    normalize_emails,
    normalize_identifier,
    normalize_identifiers,
    normalize_name,
    normalize_phone,
    normalize_phones,
    normalize_street,
    normalize_streets,
    normalize_zip,
    surname_key,
)

# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  José-María O'Brien Jr. ", "jose maria obrien"),
        ("ÉLODIE", "elodie"),
        ("Zoë", "zoe"),
        ("Nguyễn", "nguyen"),
        ("Straße", "strasse"),
        ("D\u2019Angelo", "dangelo"),
        ("O'NEIL", "oneil"),
        ("ANNE-MARIE", "anne marie"),
        ("Smith-Jones", "smith jones"),
        ("De La Cruz", "de la cruz"),
        ("García López", "garcia lopez"),
        ("St. John", "st john"),
        ("Mary/Ann", "mary ann"),
        ("Smith, Jr", "smith"),
        ("King III", "king"),
        ("Louis V", "louis"),
        ("Ed 2nd", "ed"),
        ("   a   b  ", "a b"),
        ("Øyvind", "oyvind"),
        ("Łukasz", "lukasz"),
        ("Þór", "thor"),
        ("Y\u0131ld\u0131z", "yildiz"),  # dotless i
        ("Đorđe", "dorde"),
        ("Anne_Marie", "anne marie"),
        ("王芳", "王芳"),
        ("Ольга Петрова", "ольга петрова"),
        ("", ""),
        (None, ""),
        ("   ", ""),
    ],
)
def test_normalize_name(raw: str | None, expected: str) -> None:
    """Names become lower-case ASCII words; accents, punctuation and suffixes go."""
    assert expected == normalize_name(raw)


def _name_by_regex(value: str) -> str:
    """normalize_name's general path (regular expressions), the reference for ASCII text."""
    text = value.lower().replace("'", "")
    text = re.sub(r"[^\w ]+|_", "", re.sub(r"[-_/.,&]+", " ", text))
    tokens = re.split(r"\s+", text.strip())
    while len(tokens) > 1 and tokens[-1] in {"jr", "sr", "ii", "iii", "iv", "v", "2nd", "3rd"}:
        tokens.pop()
    return " ".join(t for t in tokens if t)


@given(
    st.lists(
        st.sampled_from([*string.printable, "\x00", "\x1f", "\x7f", " jr", " III", " v"]),
        max_size=16,
    ).map("".join)
)
def test_ascii_names_take_a_one_pass_path_equal_to_the_regular_expressions(text: str) -> None:
    """The translate-table path for ASCII text gives what the general path gives."""

    assert _name_by_regex(text) == normalize_name(text)


def test_a_suffix_alone_is_kept() -> None:
    """A name that is only a suffix-like word (Jr, V) is not erased."""
    assert (normalize_name("Jr"), normalize_name("V")) == ("jr", "v")


def test_name_tokens_split_compound_surnames() -> None:
    """Compound and hyphenated surnames give one token per word."""
    assert name_tokens("García-López") == ("garcia", "lopez")
    assert name_tokens("De La Cruz") == ("de", "la", "cruz")
    assert name_tokens("") == ()
    assert name_tokens(None) == ()


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("De La Cruz", "DeLaCruz"),
        ("García López", "garcia-lopez"),
        ("Mc Donald", "McDonald"),
        ("O'Brien", "OBRIEN"),
    ],
)
def test_surname_key_ignores_spacing(left: str, right: str) -> None:
    """surname_key equates spellings that differ only in spaces, hyphens, case and accents."""
    assert surname_key(left) == surname_key(right)


def test_surname_key_values() -> None:
    """surname_key is the normalised surname with its spaces removed."""
    assert surname_key("De La Cruz") == "delacruz"
    assert surname_key(None) == ""
    assert surname_key("Cruz") != surname_key("De La Cruz")


# --- phones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "(212) 555-0123",
        "212-555-0123",
        "212.555.0123",
        "2125550123",
        "1-212-555-0123",
        "+1 212 555 0123",
        "+12125550123",
        "212-555-0123 ext. 45",
        "212-555-0123 x45",
        "+1 (212) 555-0123 ext 45",
        "212-555-0123 #9",
    ],
)
def test_us_phone_formats_normalise_to_e164(raw: str) -> None:
    """National, dotted, E.164 and extension forms of one number give the same E.164."""
    assert normalize_phone(raw) == "+12125550123"


@pytest.mark.parametrize("raw", ["", None, "12345", "abc", "0", "not a phone"])
def test_unusable_phone_is_empty(raw: str | None) -> None:
    """Values with no usable number normalise to the empty string."""
    assert normalize_phone(raw) == ""


def test_international_phone() -> None:
    """Numbers with a country code keep it; the default region applies to national forms."""
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("020 7946 0958") == ""  # not a US number


def test_is_valid_phone() -> None:
    """Only real, assignable numbers are valid: 555 area codes and fragments are not."""
    assert is_valid_phone("(212) 555-0123")
    assert is_valid_phone("+44 20 7946 0958")
    assert not is_valid_phone("(555) 234-5678")  # well formed, but 555 is no area code
    assert normalize_phone("(555) 234-5678") == "+15552345678"
    assert not is_valid_phone("123")
    assert not is_valid_phone(None)


# --- emails --------------------------------------------------------------------------


def test_normalize_email_trims_and_lowercases_only() -> None:
    """Emails are trimmed and lower-cased; dots and +tags are significant and kept."""
    assert normalize_email("  Mary.Smith+tag@Example.ORG ") == "mary.smith+tag@example.org"
    assert normalize_email("marysmith@example.org") != normalize_email("mary.smith@example.org")
    assert normalize_email(None) == ""
    assert normalize_email("") == ""


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        ("a@b.co", True),
        (" Parent@Example.ORG ", True),
        ("bad@", False),
        ("no-at-sign.org", False),
        ("a..b@x.com", False),
        ("a b@x.com", False),
        ("a@b@c.com", False),
        ("a@localhost", False),
        ("", False),
        (None, False),
    ],
)
def test_is_valid_email(raw: str | None, valid: bool) -> None:
    """A valid email has one @, a dotted domain and no spaces or double dots."""
    assert valid == is_valid_email(raw)


# --- identifiers, streets, zips ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("00123", "123"),
        ("123", "123"),
        (" 12-34 ", "1234"),
        ("0012 345", "12345"),
        ("abc-01", "ABC01"),
        ("000", "0"),
        ("0", "0"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_identifier(raw: str | None, expected: str) -> None:
    """Identifiers drop spaces, dashes and leading zeros and are upper-cased."""
    assert expected == normalize_identifier(raw)


def test_identifiers_with_leading_zeros_are_equal() -> None:
    """00123 and 123 are one identifier; 1230 is another."""
    assert normalize_identifier("00123") == normalize_identifier("123")
    assert normalize_identifier("123") != normalize_identifier("1230")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123 Main Street", "123 main st"),
        ("123 MAIN ST.", "123 main st"),
        ("45 North Oak Avenue, Apt 3", "45 n oak ave apt 3"),
        ("9 West Elm Road Unit 4", "9 w elm rd apt 4"),
        ("7 Sunset Boulevard", "7 sunset blvd"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_street(raw: str | None, expected: str) -> None:
    """Streets use USPS-style abbreviations, so spelled-out and short forms are equal."""
    assert expected == normalize_street(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345", "12345"),
        ("12345-6789", "12345"),
        ("123456789", "12345"),
        (" 02134 ", "02134"),
        ("2134", "02134"),
        ("213", "00213"),
        ("12", ""),
        ("K1A 0B1", "K1A0B1"),
        ("SW1A 1AA", "SW1A1AA"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_zip(raw: str | None, expected: str) -> None:
    """ZIP+4 keeps the ZIP, dropped leading zeros come back, other postal codes are compacted."""
    assert expected == normalize_zip(raw)


# --- nicknames -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def nicknames() -> NicknameIndex:
    return nickname_index()


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("bill", "william", True),
        ("william", "bill", True),
        ("bob", "robert", True),
        ("liz", "elizabeth", True),
        ("kate", "katherine", True),
        ("jim", "james", True),
        ("anna", "anna", True),
        ("alexander", "alexandra", False),
        ("al", "bert", False),
        ("samuel", "samantha", False),
        ("aiden", "aidan", False),
        ("", "bill", False),
        ("bill", "", False),
    ],
)
def test_nickname_equivalence(
    nicknames: NicknameIndex, first: str, second: str, expected: bool
) -> None:
    """A name equals its nicknames, but two nicknames of different names are not equal."""
    assert expected == nicknames.equivalent(first, second)


def test_canonicals_include_the_name_itself(nicknames: NicknameIndex) -> None:
    """canonicals(name) holds the name and its formal forms."""
    found = nicknames.canonicals("bill")
    assert {"bill", "william"} <= found
    assert "bert" not in nicknames.canonicals("bill")
    assert frozenset({"zyxwvut"}) == nicknames.canonicals("zyxwvut")


def test_nickname_index_is_shared() -> None:
    """The process-wide index is built once."""
    assert nickname_index() is nickname_index()


# --- many values at once (the encoder's batches) ------------------------------------------

#: Characters that matter to the batch paths: digits, the phone markers, the joining line
#: break, separators, case, a suffix and a few non-ASCII letters and digits.
_BATCH_CHARS = st.sampled_from(
    [*"0123456789", *"0123456789", "x", "X", "ext", "#", "+", "+1", "\n", "-", " ", "\t", ".",
     "a", "B", "z", "St", "Street", " jr", " N", "é", "ß", "\u0663", "(", ")"]
)  # fmt: skip
_BATCH_VALUES = st.lists(st.lists(_BATCH_CHARS, min_size=1, max_size=14).map("".join), max_size=8)


@given(_BATCH_VALUES, st.sampled_from(["US", "GB"]))
def test_phones_in_a_batch_equal_one_at_a_time(values: list[str], region: str) -> None:
    """normalize_phones gives normalize_phone of each value, line breaks and non-ASCII too."""

    assert [normalize_phone(v, region) for v in values] == normalize_phones(values, region)


def test_phones_in_a_batch_keep_extensions_and_plus_signs_apart() -> None:
    """A number with an extension or a country code reads as it does alone."""
    values = ["(555) 123-4567", "555-123-4567 x12", "+44 20 7946 0958", "1 555 123 4567", "123"]

    assert [normalize_phone(v) for v in values] == normalize_phones(values)
    assert ["+15551234567", "+15551234567"] == normalize_phones(values)[:2]


def test_phones_in_a_batch_read_e164_as_alone() -> None:
    """Numbers written from +1 (as a sync writes them) read as they do alone, and only those."""
    values = ["+16505551234", " +16505551234", "+1 650 555 1234", "1+6505551234", "+1+650555123",
              "+10505551234", "(+1)6505551234", "+16505551234x2", "+441234567890"]  # fmt: skip

    assert [normalize_phone(v) for v in values] == normalize_phones(values)
    assert ["+16505551234"] * 3 == normalize_phones(values)[:3]


@given(_BATCH_VALUES, st.sampled_from(["", "sis:"]))
def test_identifiers_in_a_batch_equal_one_at_a_time(values: list[str], prefix: str) -> None:
    """normalize_identifiers gives the prefixed normalize_identifier of each value."""
    expected = [prefix + n if (n := normalize_identifier(v)) else "" for v in values]

    assert expected == normalize_identifiers(values, prefix)


@given(_BATCH_VALUES)
def test_emails_and_streets_in_a_batch_equal_one_at_a_time(values: list[str]) -> None:
    """normalize_emails and normalize_streets give the one-value functions' results."""

    assert [normalize_email(v) for v in values] == normalize_emails(values)
    assert [normalize_street(v) for v in values] == normalize_streets(values)


def _by_phonenumbers(text: str, region: str = "US") -> str:
    """What phonenumbers alone makes of a number: the reading the fast paths must keep."""
    import phonenumbers  # noqa: PLC0415

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


_TYPO_DIGITS = st.one_of(
    st.from_regex(r"[2-9][0-9]{7,8}", fullmatch=True),  # a digit short or long: no number
    st.from_regex(r"0[0-9]{9}", fullmatch=True),  # 000-000-0000 and the like
    st.just("0000000000"),
)


@given(_TYPO_DIGITS, st.lists(st.sampled_from(["", " ", "-", ".", "(", ")", ") "]), max_size=12))
def test_typed_wrong_numbers_read_as_phonenumbers_reads_them(digits: str, cuts: list[str]) -> None:
    """The typos read without phonenumbers (nine digits, a 0 in front) read as it does."""
    text = "".join(c + (cuts[i] if i < len(cuts) else "") for i, c in enumerate(digits)).strip()

    assert normalize_phone.__wrapped__(text) == _by_phonenumbers(text)
