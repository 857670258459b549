"""Fact checking on the seed statement: supported, not found, and negated claims contradicted."""

from __future__ import annotations

import pytest

from index.build import ChunkingConfig, build_index
from index.embedding import SentenceTransformerEmbedder
from index.snapshot import IndexSnapshot, load_snapshot
from index.store import IndexStore
from qa.answer import Answerer, SentenceCandidate
from qa.check import CheckConfig, EvidenceSignals, FactChecker, decide, split_claims
from qa.retrieval import Retriever
from tests.conftest import SEED_DOC_ID, SEEDS

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed_snapshot(
    embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> IndexSnapshot:
    store = IndexStore(tmp_path_factory.mktemp("check-index"))
    build_index([SEEDS], store, embedder, ChunkingConfig(1000, 200))
    return load_snapshot(store, embedder.dimensions)


@pytest.fixture(scope="module")
def checker(embedder: SentenceTransformerEmbedder) -> FactChecker:
    return FactChecker(Answerer(embedder, Retriever(embedder)))


SUPPORTED = [
    ("China supports INTERPOL.", "China supports the United Nations counter terrorism office"),
    ("China supports the UN counter terrorism office.", "China supports the United Nations"),
    (
        "China is a state party to the United Nations Convention against transnational "
        "organized crime.",
        "As a state party to the United Nations Convention",
    ),
    (
        "China firmly implements all relevant UN anti-terrorism resolutions.",
        "China firmly implements all relevant UN anti-terrorism resolutions",
    ),
]
NOT_FOUND = [
    "Zhang Jun called for sanctions.",
    "The population of Brazil is 200 million.",
    "China supports NATO.",
]
# Negated or reversed versions of sentences of the statement.
CONTRADICTED = [
    ("China does not support INTERPOL.", "China supports the United Nations"),
    ("China opposes the International Criminal Police Organization.", "China supports the"),
    ("We must support double standards and politicization.", "We must oppose double standards"),
    ("China has never been on the side of multilateralism.", "China has always been on the side"),
    (
        "Anti terrorism actions need not respect the sovereignty of the countries concerned.",
        "Anti terrorism actions must respect the sovereignty",
    ),
    (
        "Organized crime is not a threat to international peace and security.",
        "Zhang Jun said that at present, it has become a serious threat",
    ),
]


@pytest.mark.parametrize(("claim", "opening"), SUPPORTED)
def test_true_claims_are_supported_by_the_sentence_that_says_so(
    checker: FactChecker, seed_snapshot: IndexSnapshot, claim: str, opening: str
) -> None:
    result = checker.check_claim(seed_snapshot, claim)
    assert result.verdict == "supported"
    assert result.evidence[0].n == 1
    assert result.evidence[0].text.startswith(opening)
    assert result.score == result.evidence[0].score


@pytest.mark.parametrize("claim", NOT_FOUND)
def test_absent_claims_are_not_found_without_evidence(
    checker: FactChecker, seed_snapshot: IndexSnapshot, claim: str
) -> None:
    result = checker.check_claim(seed_snapshot, claim)
    assert result.verdict == "not_found"
    assert result.evidence == []


@pytest.mark.parametrize(("claim", "opening"), CONTRADICTED)
def test_negated_claims_are_contradicted_by_the_true_sentence(
    checker: FactChecker, seed_snapshot: IndexSnapshot, claim: str, opening: str
) -> None:
    result = checker.check_claim(seed_snapshot, claim)
    assert result.verdict == "contradicted"
    assert result.evidence[0].text.startswith(opening)


def test_a_paragraph_is_checked_sentence_by_sentence_with_verbatim_evidence(
    checker: FactChecker, seed_snapshot: IndexSnapshot
) -> None:
    draft = (
        "China supports INTERPOL. Zhang Jun called for sanctions.\n\n"
        "We must support double standards."
    )
    results = checker.check(seed_snapshot, draft)
    assert [(r.text, r.verdict) for r in results] == [
        ("China supports INTERPOL.", "supported"),
        ("Zhang Jun called for sanctions.", "not_found"),
        ("We must support double standards.", "contradicted"),
    ]
    for r in results:
        assert draft[r.start : r.end] == r.text
        for e in r.evidence:
            assert e.doc_id == SEED_DOC_ID
            assert SEED_TEXT[e.start : e.end] == e.text


def test_split_claims_skips_sentences_without_content_words() -> None:
    text = "So it is. China supports INTERPOL! And so?"
    assert [text[s:e] for s, e in split_claims(text)] == ["China supports INTERPOL!"]


def _signals(similarity: float, coverage: float, **cues: object) -> EvidenceSignals:
    candidate = SentenceCandidate("d", 0, 4, "text", similarity, 0.0, 0.0, similarity)
    fields: dict[str, object] = {
        "missing_numbers": (),
        "missing_names": (),
        "negation_mismatch": False,
        "opposite_polarity": False,
    }
    fields.update(cues)
    return EvidenceSignals(candidate, similarity, coverage, **fields)  # type: ignore[arg-type]


def test_decide_thresholds() -> None:
    config = CheckConfig(related_at=0.5, supported_at=0.65, contradiction_coverage=0.5)
    assert decide("c", 0, 1, [], config).verdict == "not_found"
    assert decide("c", 0, 1, [_signals(0.6, 0.3)], config).verdict == "not_found"
    assert decide("c", 0, 1, [_signals(0.7, 0.7)], config).verdict == "supported"
    # A number of the claim that the evidence lacks blocks support.
    missing = _signals(0.7, 0.7, missing_numbers=("5",))
    assert decide("c", 0, 1, [missing], config).verdict == "not_found"
    negated = _signals(0.7, 0.7, negation_mismatch=True)
    assert decide("c", 0, 1, [negated], config).verdict == "contradicted"
    # A cue on a sentence covering little of the claim is not a contradiction.
    assert decide("c", 0, 1, [_signals(0.9, 0.3, opposite_polarity=True)], config).verdict == (
        "not_found"
    )
