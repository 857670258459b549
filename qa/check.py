"""Fact checking a draft: each sentence is supported, contradicted or not found in the documents.

There is no entailment model here; the verdict comes from signals that can be computed and
explained: how similar the claim is to the best evidence sentence, how much of the claim's
content (IDF-weighted) the sentence covers, whether numbers or names of the claim are missing
from it, and whether it negates or states the opposite of what the claim says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from index.chunking import split_sentences
from index.snapshot import IndexSnapshot
from index.text import tokenize
from qa.abstention import idf_share
from qa.answer import Answerer, Citation, SentenceCandidate
from qa.cues import (
    alias_terms,
    counterpart_terms,
    names,
    negation_count,
    negation_terms,
    numbers,
    opposite_polarity,
)

Verdict = Literal["supported", "contradicted", "not_found"]
VERDICTS: tuple[Verdict, ...] = ("supported", "contradicted", "not_found")


@dataclass(frozen=True)
class CheckConfig:
    """How many sentences are examined, how signals combine, and the verdict thresholds.

    The weights and thresholds were chosen by `qa eval-check --tune`: a grid search for the best
    macro F1 on the even-id SciFact train claims (the odd-id ones held out).
    """

    top_k: int = 8
    # Sentences (best by the answerer's score) whose signals are computed for each claim.
    examined: int = 10
    # Sentences embedded per claim: all of those retrieved, as when the weights were tuned.
    embedded: int = 1000
    max_evidence: int = 3
    similarity_weight: float = 0.3
    coverage_weight: float = 0.7
    # Below this support of the best sentence nothing in the documents is about the claim.
    related_at: float = 0.5
    # At or above this support, with no number or name of the claim missing, it is supported.
    supported_at: float = 0.5
    # A negation or opposite-polarity cue counts only on a sentence covering this much.
    contradiction_coverage: float = 0.2
    # Sentences within this support of the best one also decide the verdict.
    margin: float = 0.15


@dataclass(frozen=True)
class EvidenceSignals:
    """What one evidence sentence says about a claim."""

    candidate: SentenceCandidate
    similarity: float
    coverage: float
    missing_numbers: tuple[str, ...]
    missing_names: tuple[str, ...]
    negation_mismatch: bool
    opposite_polarity: bool

    @property
    def contradiction_cue(self) -> bool:
        return self.negation_mismatch or self.opposite_polarity

    def support(self, config: CheckConfig) -> float:
        """Similarity and coverage combined."""
        return config.similarity_weight * self.similarity + config.coverage_weight * self.coverage


@dataclass(frozen=True)
class ClaimCheck:
    """A claim of the draft, its verdict and the sentences that decide it."""

    text: str
    start: int
    end: int
    verdict: Verdict
    score: float
    evidence: list[Citation] = field(default_factory=list)


def split_claims(text: str) -> list[tuple[int, int]]:
    """The sentences of a draft as (start, end) spans: the claims to check."""
    return [(s, e) for s, e in split_sentences(text) if tokenize(text[s:e])]


def document_terms(snapshot: IndexSnapshot, claim: str, doc_id: str) -> set[str]:
    """The search terms of a document and its title, with the claim's aliases it spells out."""
    document = snapshot.documents[doc_id]
    text = f"{document.title}\n{document.text}"
    return set(tokenize(text)) | alias_terms(claim, text)


def signals(
    snapshot: IndexSnapshot,
    claim: str,
    candidate: SentenceCandidate,
    in_document: set[str] | None = None,
) -> EvidenceSignals:
    """The checking signals of one evidence sentence for claim.

    A name counts as missing only when the sentence's whole document (in_document, its terms)
    lacks it: names are often spelled out once, then abbreviated or implied.
    """
    text = candidate.text
    # Negation words and opposite-polarity words say how the claim relates to the evidence,
    # not what it is about: they do not count against coverage.
    claim_terms = set(tokenize(claim))
    evidence_terms = set(tokenize(text)) | alias_terms(claim, text)
    about = claim_terms - negation_terms(claim_terms)
    covered = evidence_terms | counterpart_terms(claim_terms, evidence_terms)
    evidence_numbers = numbers(text)
    missing_numbers = tuple(sorted(n for n in numbers(claim) if n not in evidence_numbers))
    name_terms = evidence_terms | (in_document or set())
    missing_names = tuple(sorted(n for n in names(claim) if not set(tokenize(n)) <= name_terms))
    return EvidenceSignals(
        candidate=candidate,
        similarity=candidate.similarity,
        coverage=idf_share(snapshot, about, covered),
        missing_numbers=missing_numbers,
        missing_names=missing_names,
        negation_mismatch=(negation_count(claim) % 2) != (negation_count(text) % 2),
        opposite_polarity=opposite_polarity(claim_terms, evidence_terms),
    )


def decide(
    claim: str, start: int, end: int, examined: list[EvidenceSignals], config: CheckConfig
) -> ClaimCheck:
    """The verdict on a claim from the signals of the sentences examined."""
    ranked = sorted(examined, key=lambda s: s.support(config), reverse=True)
    best = ranked[0].support(config) if ranked else 0.0
    if best < config.related_at:
        return ClaimCheck(claim, start, end, "not_found", round(best, 4))
    deciding = [s for s in ranked if s.support(config) >= best - config.margin]
    contradicting = [
        s for s in deciding if s.contradiction_cue and s.coverage >= config.contradiction_coverage
    ]
    verdict: Verdict
    if contradicting:
        chosen, verdict = contradicting, "contradicted"
    elif best >= config.supported_at and not (
        ranked[0].missing_numbers or ranked[0].missing_names or ranked[0].contradiction_cue
    ):
        chosen = [
            s
            for s in deciding
            if s.support(config) >= config.supported_at
            and not (s.missing_numbers or s.missing_names or s.contradiction_cue)
        ]
        verdict = "supported"
    else:
        return ClaimCheck(claim, start, end, "not_found", round(best, 4))
    chosen = chosen[: config.max_evidence]
    evidence = [
        Citation(
            n,
            s.candidate.doc_id,
            s.candidate.text,
            s.candidate.start,
            s.candidate.end,
            round(s.support(config), 4),
        )
        for n, s in enumerate(chosen, start=1)
    ]
    return ClaimCheck(claim, start, end, verdict, round(chosen[0].support(config), 4), evidence)


class FactChecker:
    """Checks each sentence of a draft against the indexed documents."""

    def __init__(self, answerer: Answerer, config: CheckConfig | None = None) -> None:
        self.answerer = answerer
        self.config = config or CheckConfig()

    def examine(self, snapshot: IndexSnapshot, claim: str) -> list[EvidenceSignals]:
        """Signals of the sentences most likely to bear on claim, in the answerer's order."""
        candidates = self.answerer.candidates(
            snapshot, claim, self.config.top_k, self.config.embedded
        )
        examined = candidates[: self.config.examined]
        in_document = {
            doc_id: document_terms(snapshot, claim, doc_id)
            for doc_id in {c.doc_id for c in examined}
        }
        return [signals(snapshot, claim, c, in_document[c.doc_id]) for c in examined]

    def check_claim(self, snapshot: IndexSnapshot, claim: str, start: int = 0) -> ClaimCheck:
        """The verdict on one claim."""
        examined = self.examine(snapshot, claim)
        return decide(claim, start, start + len(claim), examined, self.config)

    def check(self, snapshot: IndexSnapshot, text: str) -> list[ClaimCheck]:
        """A verdict for each sentence of text, in order."""
        return [self.check_claim(snapshot, text[s:e], s) for s, e in split_claims(text)]
