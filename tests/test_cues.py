"""Lexical cues: numbers, names, abbreviations, negation and opposite polarity."""

from __future__ import annotations

from index.text import tokenize
from qa.cues import (
    abbreviates,
    alias_terms,
    counterpart_terms,
    name_phrases,
    names,
    negation_count,
    negation_terms,
    numbers,
    opposite_polarity,
)


def test_numbers_are_normalised() -> None:
    assert numbers("1 in 5 million; 10% of 1,000 and 2.50, not 007") == {
        "1",
        "5",
        "1000000",
        "10",
        "1000",
        "2.5",
        "7",
    }
    assert numbers("No figures here.") == set()


def test_names_are_capitalised_after_the_first_word_acronyms_or_codes() -> None:
    assert names("China supports INTERPOL and Zhang Jun, B12 and 4-PBA") == {
        "INTERPOL",
        "Zhang",
        "Jun",
        "B12",
        "4-PBA",
    }


def test_name_phrases_keep_joiners_inside() -> None:
    text = "the United Nations Convention against Corruption, the International Criminal Police"
    assert name_phrases(text) == [
        ["United", "Nations", "Convention", "against", "Corruption"],
        ["International", "Criminal", "Police"],
    ]


def test_abbreviations_by_initials_and_by_syllables() -> None:
    assert abbreviates("UN", ["United", "Nations"])
    assert abbreviates("INTERPOL", ["International", "Criminal", "Police", "Organization"])
    assert abbreviates("UNODC", ["United", "Nations", "Office", "on", "Drugs", "and", "Crime"])
    assert not abbreviates("NATO", ["United", "Nations"])
    # One word's prefix is not an abbreviation of a phrase.
    assert not abbreviates("INTER", ["International", "Criminal"])
    assert not abbreviates("U", ["United", "Nations"])


def test_alias_terms_work_both_ways() -> None:
    evidence = "China supports the International Criminal Police Organization and others."
    assert alias_terms("China supports INTERPOL", evidence) == {"interpol"}
    assert alias_terms("The United Nations met.", "The UN met.") == {"unit", "nation"}
    assert alias_terms("China supports NATO", evidence) == set()


def test_negations_are_counted() -> None:
    assert negation_count("It doesn’t work; there is no cure and never was.") == 3
    assert negation_count("It works.") == 0
    assert negation_terms({"never", "lack", "china"}) == {"never", "lack"}


def test_opposite_polarity() -> None:
    def terms(text: str) -> set[str]:
        return set(tokenize(text))

    assert opposite_polarity(terms("China opposes INTERPOL"), terms("China supports INTERPOL"))
    assert opposite_polarity(terms("X increases Y"), terms("X reduced Y markedly"))
    assert not opposite_polarity(terms("X increases Y"), terms("X raised Y"))
    # Evidence on both sides is not a clear opposite.
    assert not opposite_polarity(terms("X increases Y"), terms("X raised Y but lowered Z"))
    assert counterpart_terms(terms("China opposes it"), terms("China supports it")) == {"oppos"}
