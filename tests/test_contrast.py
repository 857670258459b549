"""Which claim words the evidence accounts for, and the contrasting words it has in their place."""

from __future__ import annotations

import pytest

from qa.contrast import Contrast, account, form_contrast


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("unilateralism", "multilateralism"),
        ("legal", "illegal"),
        ("important", "unimportant"),
        ("bilateral", "multilateral"),
        ("compliance", "noncompliance"),
    ],
)
def test_contrasting_prefixes_on_the_same_base(a: str, b: str) -> None:
    assert form_contrast(a, b)
    assert form_contrast(b, a)


@pytest.mark.parametrize(
    ("a", "b"), [("nation", "union"), ("in", "on"), ("cooperation", "operation")]
)
def test_unrelated_words_and_short_bases_are_no_contrast(a: str, b: str) -> None:
    assert not form_contrast(a, b)


def test_every_word_accounted_for_by_stem_and_alias() -> None:
    evidence = "China supports the International Criminal Police Organization and others."
    assert account("China supported INTERPOL.", evidence).unaccounted == ()
    assert account("China supported INTERPOL.", evidence).contrasts == ()


def test_an_antonym_in_place_of_the_claim_word_is_named() -> None:
    result = account("We must support double standards.", "We must oppose double standards.")
    assert result.contrasts == (Contrast("support", "oppose", "antonym"),)
    assert result.unaccounted == ()


def test_developed_and_developing_before_the_same_noun_contrast() -> None:
    result = account(
        "Help developed countries with border defense.",
        "Help member states, especially developing countries, with border defense.",
    )
    assert Contrast("developed", "developing", "form") in result.contrasts


def test_another_number_and_another_name_in_the_same_role() -> None:
    assert account("The rate rose by 15%.", "The rate rose by 12%.").contrasts == (
        Contrast("15", "12", "number"),
    )
    assert account("Brazil supports the treaty.", "China supports the treaty.").contrasts == (
        Contrast("Brazil", "China", "name"),
    )


def test_a_number_of_the_same_value_is_accounted_for() -> None:
    assert account("It cost 1,000 dollars.", "It cost 1000 dollars.").unaccounted == ()


def test_words_the_evidence_lacks_without_a_contrast_are_unaccounted() -> None:
    result = account("China supports military support.", "China supports the UN.")
    assert result.unaccounted == ("military",)
    assert result.contrasts == ()


def test_a_name_spelled_elsewhere_in_the_document_is_accounted_for() -> None:
    result = account("Zhang said we must unite.", "We must unite.", in_document={"zhang"})
    assert result.unaccounted == ()


def test_another_word_in_the_claim_words_place_is_a_swap() -> None:
    result = account(
        "The original version of the Charter fails.", "The current version of the Charter fails."
    )
    assert result.unaccounted == ("original",)
    assert result.swaps == (Contrast("original", "current", "swap"),)
    assert result.contrasts == ()
    # A word the evidence lacks with nothing in its place is no swap.
    assert account("The Charter fails badly.", "The Charter fails.").swaps == ()


def test_large_and_small_are_antonyms() -> None:
    result = account("Loans went to large businesses.", "Loans went to small businesses.")
    assert result.contrasts == (Contrast("large", "small", "antonym"),)
