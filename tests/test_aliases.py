"""Bridging words: acronyms and expansions, morphological variants, spelling corrections."""

from __future__ import annotations

import pytest

from index.build import ChunkingConfig, build_index
from index.embedding import Embedder
from index.snapshot import IndexSnapshot, load_snapshot
from index.store import IndexStore
from index.text import tokenize
from qa.aliases import (
    Bridge,
    CollectionNames,
    Rewrite,
    TermGroup,
    abbreviates,
    near_stopword,
)

TEXT = (
    "The ministry works with the International Criminal Police Organization on trafficking.\n\n"
    "It trains customs officers of African states. Terrorism threatens development.\n\n"
    "The WHO coordinates the response to epidemics."
)


@pytest.fixture(scope="module")
def snapshot(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> IndexSnapshot:
    folder = tmp_path_factory.mktemp("alias-docs")
    (folder / "ministry.txt").write_text(TEXT)
    store = IndexStore(folder.parent / "alias-index")
    build_index([folder], store, embedder, ChunkingConfig(200, 0))
    return load_snapshot(store, embedder.dimensions)


def test_abbreviations_are_spelled_by_word_prefixes() -> None:
    assert abbreviates("INTERPOL", "International Criminal Police Organization".split())
    assert abbreviates("UN", ["United", "Nations"])
    assert not abbreviates("Taliban", "The International Criminal Police".split())


def test_collection_names_expand_an_acronym_and_abbreviate_a_phrase() -> None:
    names = CollectionNames([TEXT])
    assert names.expansions("interpol") == [("International", "Criminal", "Police", "Organization")]
    assert names.abbreviations(["World", "Health", "Organization"]) == ["WHO"]


def test_an_unknown_acronym_is_read_as_its_expansion(snapshot: IndexSnapshot) -> None:
    bridged = Bridge(snapshot).bridge("interpol")
    assert [(r.kind, r.source, r.target) for r in bridged.rewrites] == [
        ("alias", "interpol", "International Criminal Police Organization")
    ]
    assert bridged.query == "interpol (International Criminal Police Organization)"
    (group,) = bridged.groups
    assert group.found_in({"internat", "crimin", "polic", "organiz"})
    assert not group.found_in({"internat"})


def test_a_misspelt_word_is_corrected_to_the_collection_s_word(snapshot: IndexSnapshot) -> None:
    bridged = Bridge(snapshot).bridge("what did they say abut terorism")
    assert [(r.kind, r.source, r.target) for r in bridged.rewrites] == [
        ("spelling", "terorism", "terrorism")
    ]
    assert bridged.query == "what did they say abut terrorism"
    assert [g.term for g in bridged.groups] == ["teror"]


def test_a_variant_the_stemmer_keeps_apart_counts_as_the_word(snapshot: IndexSnapshot) -> None:
    (group,) = Bridge(snapshot).bridge("Africa").groups
    assert group == TermGroup("africa", (frozenset({"african"}),))


def test_names_the_collection_lacks_are_not_corrected_into_others(
    snapshot: IndexSnapshot,
) -> None:
    assert Bridge(snapshot).bridge("Does the ministry train the Taliban?").rewrites == ()


@pytest.mark.parametrize(
    ("word", "expected"), [("abut", True), ("wich", True), ("cat", False), ("crime", False)]
)
def test_a_misspelt_function_word_is_recognised(word: str, expected: bool) -> None:
    assert near_stopword(word) is expected


def test_a_word_of_the_language_is_not_corrected(snapshot: IndexSnapshot) -> None:
    words = {"development", "topics"}
    bridge = Bridge(snapshot, is_word=words.__contains__)
    assert bridge.bridge("developmnt topics").rewrites == (
        Rewrite("spelling", "developmnt", "development"),
    )
    assert [g.term for g in bridge.bridge("counter-terrorism").groups] == ["counter", "terror"]


def test_two_words_run_together_count_as_the_collection_s_pair(snapshot: IndexSnapshot) -> None:
    bridged = Bridge(snapshot).bridge("customsofficers")
    (group,) = bridged.groups
    assert group.found_in(set(tokenize("customs officers")))
    assert bridged.rewrites == (Rewrite("variant", "customsofficers", "customs officers"),)


def test_a_word_the_model_holds_whole_is_not_split(snapshot: IndexSnapshot) -> None:
    bridge = Bridge(snapshot, is_word={"customsofficers"}.__contains__)
    assert bridge.bridge("customsofficers").rewrites == ()


def test_a_named_thing_is_also_found_by_the_names_the_collection_uses(
    snapshot: IndexSnapshot,
) -> None:
    bridge = Bridge(snapshot)
    named = [("Ruritania", ("ruritania", "african states"))]
    bridged = bridge.with_other_names(bridge.bridge("What about Ruritania?"), named)
    (group,) = bridged.groups
    assert group.found_in({"african", "state"})
    assert bridged.rewrites == (Rewrite("alias", "Ruritania", "African States"),)
    assert bridged.query == "What about Ruritania (African States)?"


@pytest.fixture(scope="module")
def health(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> IndexSnapshot:
    folder = tmp_path_factory.mktemp("health-docs")
    (folder / "health.txt").write_text(
        "In 2021 the United States rejoined the World Health Organization. Let us work together."
    )
    store = IndexStore(folder.parent / "health-index")
    build_index([folder], store, embedder, ChunkingConfig(200, 0))
    return load_snapshot(store, embedder.dimensions)


def test_an_acronym_in_capitals_is_not_read_as_the_function_word_it_spells(
    health: IndexSnapshot,
) -> None:
    bridged = Bridge(health).bridge("Did America go back into the WHO?")
    assert bridged.rewrites == (Rewrite("alias", "WHO", "World Health Organization"),)
    assert bridged.query == "Did America go back into the WHO (World Health Organization)?"
    who = next(g for g in bridged.groups if g.term == "who")
    assert who.found_in(set(tokenize("the World Health Organization")))
    # Written in lower case, or in a question all in capitals, it is the question word.
    assert "who" not in {g.term for g in Bridge(health).bridge("Who rejoined it?").groups}
    assert [g.term for g in Bridge(health).bridge("WHO REJOINED?").groups] == ["rejoin"]


def test_an_acronym_the_collection_also_uses_as_a_word_counts_as_its_expansion(
    health: IndexSnapshot,
) -> None:
    bridged = Bridge(health).bridge("What did the US rejoin?")
    us = next(g for g in bridged.groups if g.term == "us")
    assert us.found_in(set(tokenize("The United States rejoined")))
    # The query is left as asked: the token is also the pronoun's.
    assert (bridged.query, bridged.rewrites) == ("What did the US rejoin?", ())
