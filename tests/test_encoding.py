"""Encoding rosters into code arrays: the guardian name columns built a column at a time."""

from __future__ import annotations

from merge_engine.matching._features import (
    MISSING,
    Vocabulary,
    _guardian_givens,
    _guardian_names,
)


class TestGuardianNames:
    def test_given_name_and_surname_are_normalised_and_joined(self) -> None:
        """A guardian's name is ``given surname``, the surname without spaces; a guardian
        missing either has none."""

        assert ["name:ana delacruz", "", ""] == _guardian_names(
            ["Ana", "", "Bo"], ["De La Cruz", "Smith", ""]
        )


class TestGuardianGivens:
    def test_first_word_of_the_given_name(self) -> None:
        """The given name's first word, lower-cased, is the guardian's given name."""

        assert ["given:mary"] == _guardian_givens(["Mary Ann"], [""], ["Lopez"])

    def test_email_stands_in_for_a_missing_given_name(self) -> None:
        """Without a given name, the letters an email starts with are used."""

        assert ["given:edna", ""] == _guardian_givens(
            ["", ""], [" Edna.Chen@example.com", "42@example.com"], ["Chen", "Chen"]
        )

    def test_the_childs_own_surname_and_short_names_are_not_given_names(self) -> None:
        """A given name equal to the child's surname (typed in the wrong column) or of one
        letter says nothing."""

        assert ["", "", "given:jo"] == _guardian_givens(
            ["Smith", "J", "Jo"], ["", "", ""], ["Smith", "Smith", "Smith"]
        )


class TestVocabulary:
    def test_codes_number_new_values_in_order_and_reuse_known_ones(self) -> None:
        """``codes`` gives what ``code`` gives value by value."""
        one, many = Vocabulary(), Vocabulary()
        values = ["b", "", "a", "b", "c", "a"]
        one.code("z")
        many.code("z")

        expected = [one.code(v) for v in values]

        assert expected == many.codes(values)
        assert one.values == many.values
        assert MISSING == many.codes([""])[0]
