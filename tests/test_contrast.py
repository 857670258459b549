"""Which claim words the evidence accounts for, and the contrasting words it has in their place."""

from __future__ import annotations

import pytest

from qa.contrast import (
    Contrast,
    account,
    form_contrast,
    negation_aligned,
    negation_mismatch,
    polar_words,
)


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


def test_an_antonym_elsewhere_in_the_sentence_is_not_aligned() -> None:
    # "reduced" is about another quantity; "increases" has no counterpart in its role.
    result = account(
        "Exercise increases bone density.",
        "Exercise and bone density were measured, and the diet reduced body weight.",
    )
    assert result.contrasts == (Contrast("increases", "reduced", "antonym", aligned=False),)
    aligned = account("Exercise increases bone density.", "Exercise reduces bone density.")
    assert aligned.contrasts == (Contrast("increases", "reduces", "antonym"),)


def test_a_negation_is_aligned_only_where_it_bears_on_what_the_claim_states() -> None:
    assert negation_aligned("China is not a state party.", "China is a state party.")
    assert negation_aligned("X has changed.", "X has not changed since 2000.")
    # A negation elsewhere in a long sentence differs in parity but not on the claim.
    claim = "Vitamin D raises calcium absorption."
    evidence = "Vitamin D raises calcium absorption, with no change in bone turnover."
    assert negation_mismatch(claim, evidence)
    assert not negation_aligned(claim, evidence)


def test_polar_words_are_the_direction_words() -> None:
    assert polar_words(("increases", "vulnerability", "worsens")) == ("increases", "worsens")
