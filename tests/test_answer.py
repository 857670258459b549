"""Answerer: only the most promising sentences go to the model."""

from __future__ import annotations

from pathlib import Path

from index.build import ChunkingConfig, build_index
from index.embedding import Embedder
from index.snapshot import load_snapshot
from index.store import IndexStore
from qa.abstention import UNRELATED_SENTENCES
from qa.answer import AnswerConfig, Answerer, SentenceCandidate
from qa.retrieval import Retriever
from qa.service import QAService
from tests.conftest import SEEDS
from tests.embedders import CountingEmbedder


def test_sentences_embedded_are_capped_and_the_answer_still_quotes(
    embedder: Embedder, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    sentences = [f"Filler sentence number {n} talks about weather." for n in range(10)]
    sentences.insert(4, "The Danube flows through ten countries.")
    (folder / "river.txt").write_text(" ".join(sentences), encoding="utf-8")
    store = IndexStore(tmp_path / "index")
    build_index([folder], store, embedder, ChunkingConfig(2000, 0), sentence_vectors=False)
    snapshot = load_snapshot(store, embedder.dimensions)
    counting = CountingEmbedder(embedder)
    answerer = Answerer(counting, Retriever(counting), AnswerConfig(max_embedded_sentences=3))

    answer = answerer.answer(snapshot, "How many countries does the Danube flow through?")

    # Besides the fixed unrelated sentences (embedded once, for the abstention's floor).
    question_and_sentences = [t for t in counting.texts if t not in UNRELATED_SENTENCES]
    assert len(question_and_sentences) == 1 + 3
    assert answer.citations[0].text == "The Danube flows through ten countries."
    text = snapshot.documents["river.txt"].text
    assert text[answer.citations[0].start : answer.citations[0].end] == answer.citations[0].text


def candidate(text: str, score: float) -> SentenceCandidate:
    return SentenceCandidate("doc.txt", 0, len(text), text, score, 0.0, 0.0, score)


def test_a_question_asking_how_many_prefers_a_sentence_stating_a_number(
    embedder: Embedder,
) -> None:
    answerer = Answerer(embedder, Retriever(embedder), AnswerConfig(number_weight=0.2))
    wordy = candidate("Our officers support the Haitian police.", 0.9)
    counted = candidate("Kenya has deployed 382 officers.", 0.8)

    assert answerer.prefer_numbers([wordy, counted])[0] == counted
    # A date in words answers "when", not "how many".
    recent = candidate("In recent years the mission grew.", 0.85)
    assert answerer.prefer_numbers([recent, wordy])[0].text == wordy.text
    assert answerer.prefer_numbers([recent, wordy], date=True)[0] == recent


def test_who_is_the_speaker_cites_the_sentence_naming_them(
    embedder: Embedder, tmp_path: Path
) -> None:
    qa = QAService(IndexStore(tmp_path / "index"), embedder, ChunkingConfig())
    qa.index_paths([SEEDS])

    answer = qa.ask("Who is the speaker?")

    assert answer.answered
    assert "Zhang Jun" in answer.citations[0].text
