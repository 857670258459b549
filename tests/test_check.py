"""Fact checking on the seed statement: supported, not found, and negated claims contradicted."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from index.build import ChunkingConfig, build_index
from index.embedding import SentenceTransformerEmbedder
from index.snapshot import IndexSnapshot, load_snapshot
from index.store import IndexStore
from qa.answer import Answerer, SentenceCandidate
from qa.check import CheckConfig, EvidenceSignals, FactChecker, decide, split_claims
from qa.contrast import Contrast
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
    assert 0.0 < result.score <= 1.0
    assert result.reason


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


def _signals(
    coverage: float, supported: float, contradicted: float = 0.0, **cues: object
) -> EvidenceSignals:
    candidate = SentenceCandidate("d", 0, 4, "text", 0.5, 0.0, 0.0, 0.5)
    fields: dict[str, object] = {
        "missing_numbers": (),
        "missing_names": (),
        "negation_mismatch": False,
        "opposite_polarity": False,
        "probabilities": (supported, contradicted, 1.0 - supported - contradicted),
    }
    fields.update(cues)
    return EvidenceSignals(candidate, 0.5, coverage, **fields)  # type: ignore[arg-type]


CONFIG = CheckConfig(
    supported_at=0.5, paraphrase_at=0.8, contradicted_at=0.9, contradiction_coverage=0.5
)


def test_supported_needs_every_word_accounted_for_or_a_confident_paraphrase() -> None:
    assert decide("c", 0, 1, [], CONFIG).verdict == "not_found"
    result = decide("c", 0, 1, [_signals(1.0, 0.6)], CONFIG)
    assert (result.verdict, result.score) == ("supported", 0.6)
    assert result.reason == "every content word of the claim is in the evidence"
    unaccounted = _signals(0.8, 0.7, unaccounted=("need",))
    result = decide("c", 0, 1, [unaccounted], CONFIG)
    assert (result.verdict, result.evidence) == ("not_found", [])
    assert result.reason == "the closest evidence does not say 'need'"
    paraphrase = _signals(0.8, 0.85, unaccounted=("need",))
    assert decide("c", 0, 1, [paraphrase], CONFIG).verdict == "supported"
    # A number of the claim that the evidence lacks blocks support.
    missing = _signals(1.0, 0.9, missing_numbers=("5",))
    assert decide("c", 0, 1, [missing], CONFIG).verdict == "not_found"


def test_a_contrasting_word_makes_the_claim_contradicted_and_is_named() -> None:
    swapped = _signals(0.9, 0.9, contrasts=(Contrast("developed", "developing", "form"),))
    result = decide("c", 0, 1, [swapped], CONFIG)
    assert result.verdict == "contradicted"
    assert result.reason == "the evidence says 'developing', the claim 'developed'"
    negated = _signals(0.9, 0.9, negation_aligned=True)
    assert decide("c not", 0, 1, [negated], CONFIG).verdict == "contradicted"
    # A negation elsewhere in the sentence (parity only) is a feature of the model, no cue.
    elsewhere = _signals(0.9, 0.9, negation_mismatch=True, opposite_polarity=True)
    assert decide("c", 0, 1, [elsewhere], CONFIG).verdict == "supported"
    # A cue on a sentence covering little of the claim is not a contradiction.
    far = _signals(0.3, 0.1, negation_aligned=True)
    assert decide("c", 0, 1, [far], CONFIG).verdict == "not_found"
    # The model alone, when confident.
    assert decide("c", 0, 1, [_signals(0.3, 0.05, 0.95)], CONFIG).verdict == "contradicted"


def test_another_number_or_name_contradicts_only_where_it_is_the_one_change() -> None:
    number = (Contrast("15", "12", "number"),)
    one_slot = _signals(0.9, 0.9, contrasts=number)
    assert decide("c", 0, 1, [one_slot], CONFIG).verdict == "contradicted"
    # In a sentence about something else (other claim words unaccounted) it is not a cue.
    elsewhere = _signals(0.6, 0.3, contrasts=number, unaccounted=("need",))
    assert decide("c", 0, 1, [elsewhere], CONFIG).verdict == "not_found"


def test_a_swapped_word_blocks_a_paraphrase_and_is_named() -> None:
    swap = (Contrast("original", "current", "swap"),)
    swapped = _signals(0.8, 0.95, unaccounted=("original",), swaps=swap)
    result = decide("c", 0, 1, [swapped], CONFIG)
    assert result.verdict == "not_found"
    assert result.reason == "the evidence says 'current' where the claim says 'original'"
    confident = replace(CONFIG, swap_paraphrase_at=0.9)
    assert decide("c", 0, 1, [swapped], confident).verdict == "supported"


def test_not_found_names_the_words_no_document_mentions() -> None:
    military = ("military",)
    unknown = _signals(0.8, 0.95, unaccounted=military, unknown=military, off_document=military)
    result = decide("c", 0, 1, [unknown], CONFIG)
    assert (result.verdict, result.reason) == ("not_found", "no document mentions 'military'")


ISSUE_17 = [
    (
        "China opposes the UN Convention against transnational organized crime.",
        "contradicted",
    ),
    ("China has always been on the side of unilateralism.", "contradicted"),
    ("Zhang Jun said developed countries need help with border defense.", "contradicted"),
]


def test_the_issue_17_false_claims_are_contradicted_naming_the_words(
    checker: FactChecker, seed_snapshot: IndexSnapshot
) -> None:
    results = [checker.check_claim(seed_snapshot, claim) for claim, _ in ISSUE_17]
    assert [r.verdict for r in results] == [verdict for _, verdict in ISSUE_17]
    assert results[1].reason == "the evidence says 'multilateralism', the claim 'unilateralism'"
    assert results[2].reason == "the evidence says 'developing', the claim 'developed'"


SEED_CLAIMS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "seed_claims.jsonl").open(encoding="utf-8")
]
FALSE_KINDS = {"negated", "reversal", "swap"}


def test_seed_claim_set_no_false_claim_supported_and_paraphrases_supported(
    checker: FactChecker, seed_snapshot: IndexSnapshot
) -> None:
    assert len(SEED_CLAIMS) >= 100
    verdicts = {
        c["id"]: checker.check_claim(seed_snapshot, c["claim"]).verdict for c in SEED_CLAIMS
    }
    false_supported = [
        c["id"]
        for c in SEED_CLAIMS
        if c["kind"] in FALSE_KINDS and verdicts[c["id"]] == "supported"
    ]
    assert false_supported == []
    absent_supported = [
        c["id"] for c in SEED_CLAIMS if c["kind"] == "absent" and verdicts[c["id"]] == "supported"
    ]
    assert absent_supported == []
    paraphrases = [c for c in SEED_CLAIMS if c["kind"] == "paraphrase"]
    supported = [c for c in paraphrases if verdicts[c["id"]] == "supported"]
    assert len(supported) >= 0.9 * len(paraphrases)


def test_a_loose_paraphrase_is_supported_only_without_cues_or_a_changed_direction() -> None:
    config = replace(CONFIG, loose_similarity=0.7, loose_at=0.4, loose_reworded=0.0)
    reworded = ("vulnerability", "liver")
    loose = replace(_signals(0.4, 0.2, unaccounted=reworded), similarity=0.8, loose=0.5)
    result = decide("c", 0, 1, [loose], config)
    assert result.verdict == "supported"
    assert result.reason.startswith("the evidence says the same in other words (similarity 0.80")
    # Not when the loose model or the similarity is below its threshold,
    assert decide("c", 0, 1, [replace(loose, loose=0.3)], config).verdict == "not_found"
    assert decide("c", 0, 1, [replace(loose, similarity=0.6)], config).verdict == "not_found"
    # nor when an unaccounted word states a direction (increases), a word no document has,
    polar = replace(loose, unaccounted=("increases", "liver"))
    assert decide("c", 0, 1, [polar], config).verdict == "not_found"
    assert decide("c", 0, 1, [replace(loose, unknown=("liver",))], config).verdict == "not_found"
    # nor a contrast elsewhere in the sentence (no contradiction either: it is not aligned).
    far = (Contrast("increases", "reduced", "antonym", aligned=False),)
    result = decide("c", 0, 1, [replace(loose, contrasts=far)], config)
    assert result.verdict == "not_found"
    # A near-copy with one changed word is left to the paraphrase rule.
    one = replace(loose, unaccounted=("liver",))
    assert decide("c", 0, 1, [one], replace(config, loose_reworded=2.0)).verdict == "not_found"
