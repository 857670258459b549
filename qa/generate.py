"""Optional generated answers: a language model writes from the excerpts, every sentence checked.

The model (any langchain chat model: an OpenAI-compatible endpoint, or a local GGUF through
llama-cpp-python) sees only numbered excerpts and must end each sentence with the marker of the
excerpt it comes from. Each marked sentence is then checked against its excerpts by embedding
similarity and term overlap; markers to excerpts that do not support it are dropped, sentences
left without a supporting excerpt are removed and counted. Whether to answer at all is still the
extractive answerer's decision, so the model is never asked when the documents do not answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embedding import Embedder
from index.text import tokenize
from qa.answer import Answer, Citation
from qa.service import QAService

if TYPE_CHECKING:
    # langchain's chat models are imported only when one is configured: the extractive service
    # (and the routes that read removed_sentences) never load them.
    from langchain_core.language_models import BaseChatModel

SYSTEM_PROMPT = (
    "You answer questions using only the numbered excerpts you are given. Write one to three "
    "short sentences. End every sentence with the number of the excerpt it comes from in square "
    "brackets, like [1]. Do not add anything the excerpts do not say."
)
_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?\]])\s+")
_ONLY_MARKERS = re.compile(r"^(?:\[\d+\]\s*)+[.!?]?$")


@dataclass(frozen=True)
class GenerationConfig:
    """How many excerpts the model sees, and what counts as support for a sentence."""

    max_excerpts: int = 5
    # A sentence is supported by an excerpt when both hold.
    min_similarity: float = 0.55
    min_overlap: float = 0.5


@dataclass(frozen=True)
class GeneratedAnswer(Answer):
    """An answer written by the model; `removed` sentences failed the check and were dropped."""

    removed: int = 0
    generated: bool = True


@dataclass(frozen=True)
class SentenceCheck:
    """One generated sentence, the excerpts it cites, and which of them support it."""

    text: str
    cited: tuple[int, ...]
    supported_by: tuple[int, ...]


def removed_sentences(answer: Answer) -> int | None:
    """How many written sentences were dropped, or None for an extractive answer."""
    return answer.removed if isinstance(answer, GeneratedAnswer) else None


def split_sentences(text: str) -> list[str]:
    """Sentences of generated text; a marker standing alone joins the sentence before it."""
    sentences: list[str] = []
    for part in _SENTENCE_END.split(text.strip()):
        part = part.strip()
        if not part:
            continue
        if sentences and _ONLY_MARKERS.match(part):
            sentences[-1] = f"{sentences[-1]} {part}"
        else:
            sentences.append(part)
    return sentences


def strip_markers(sentence: str) -> str:
    """The sentence without its [n] markers."""
    text = re.sub(r"\s+", " ", _MARKER.sub("", sentence)).strip()
    return re.sub(r"\s+([.!?,;:])", r"\1", text)


def term_overlap(sentence: str, excerpt: str) -> float:
    """The share of the sentence's terms that occur in the excerpt."""
    terms = set(tokenize(sentence))
    if not terms:
        return 0.0
    return len(terms & set(tokenize(excerpt))) / len(terms)


def format_excerpts(excerpts: list[Citation]) -> str:
    return "\n".join(f"[{c.n}] {c.text}" for c in excerpts)


class GroundedGenerator:
    """Writes answers with a chat model from the service's best sentences, then checks them."""

    def __init__(
        self,
        service: QAService,
        chat_model: BaseChatModel,
        embedder: Embedder | None = None,
        config: GenerationConfig | None = None,
        *,
        one_at_a_time: bool = False,
    ) -> None:
        self.service = service
        self.chat_model = chat_model
        # The sentences it writes are compared with the excerpts by the service's own model.
        self.embedder = embedder or service.embedder
        self.config = config or GenerationConfig()
        # A local model (llama.cpp) cannot serve two threads at once; a remote endpoint can.
        self._model_lock: AbstractContextManager[Any] = (
            threading.Lock() if one_at_a_time else nullcontext()
        )

    def excerpts(
        self,
        question: str,
        extractive: Answer,
        top_k: int,
        doc_ids: Collection[str] | None = None,
    ) -> list[Citation]:
        """The extractive answer's citations, then the next best sentences, numbered from 1."""
        chosen = [(c.doc_id, c.start, c.end, c.text, c.score) for c in extractive.citations]
        seen = {(d, s, e) for d, s, e, _, _ in chosen}
        for candidate in self.service.candidates(question, top_k, doc_ids):
            if len(chosen) >= self.config.max_excerpts:
                break
            key = (candidate.doc_id, candidate.start, candidate.end)
            if key not in seen:
                seen.add(key)
                chosen.append((*key, candidate.text, round(candidate.score, 4)))
        return [
            Citation(n, doc_id, text, start, end, score)
            for n, (doc_id, start, end, text, score) in enumerate(
                chosen[: self.config.max_excerpts], start=1
            )
        ]

    def check(self, sentences: list[str], excerpts: list[Citation]) -> list[SentenceCheck]:
        """Which of its cited excerpts support each sentence."""
        by_n = {c.n: c for c in excerpts}
        contents = [strip_markers(s) for s in sentences]
        vectors = self.embedder.embed_batch(contents + [c.text for c in excerpts])
        sentence_vectors, excerpt_vectors = vectors[: len(contents)], vectors[len(contents) :]
        similarity = sentence_vectors @ excerpt_vectors.T if len(contents) else np.zeros((0, 0))
        checks = []
        for i, (sentence, content) in enumerate(zip(sentences, contents, strict=True)):
            cited = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(sentence)))
            supported = tuple(
                n
                for n in cited
                if n in by_n
                and float(similarity[i, n - 1]) >= self.config.min_similarity
                and term_overlap(content, by_n[n].text) >= self.config.min_overlap
            )
            checks.append(SentenceCheck(sentence, cited, supported if content else ()))
        return checks

    def compose(self, checks: list[SentenceCheck], excerpts: list[Citation]) -> GeneratedAnswer:
        """Kept sentences with their supporting markers renumbered; the rest counted as removed."""
        by_n = {c.n: c for c in excerpts}
        renumber: dict[int, int] = {}
        kept: list[str] = []
        for check in checks:
            if not check.supported_by:
                continue
            for n in check.supported_by:
                renumber.setdefault(n, len(renumber) + 1)
            markers = " ".join(f"[{renumber[n]}]" for n in check.supported_by)
            content = strip_markers(check.text)
            end = content[-1] if content[-1] in ".!?" else "."
            kept.append(f"{content.rstrip('.!?')} {markers}{end}")
        citations = [replace(by_n[old], n=new) for old, new in renumber.items()]
        removed = len(checks) - len(kept)
        return GeneratedAnswer(True, " ".join(kept), citations, removed=removed)

    def ask(self, question: str, top_k: int = 8, doc_ids: Collection[str] | None = None) -> Answer:
        """A generated, checked answer; the extractive one when nothing generated survives."""
        extractive = self.service.ask(question, top_k, doc_ids)
        if not extractive.answered:
            return extractive
        excerpts = self.excerpts(question, extractive, top_k, doc_ids)
        prompt = f"Excerpts:\n{format_excerpts(excerpts)}\n\nQuestion: {question}\nAnswer:"
        from langchain_core.messages import HumanMessage, SystemMessage

        with self._model_lock:
            reply = self.chat_model.invoke([SystemMessage(SYSTEM_PROMPT), HumanMessage(prompt)])
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        checks = self.check(split_sentences(text), excerpts)
        answer = self.compose(checks, excerpts)
        if not answer.citations:
            return GeneratedAnswer(
                extractive.answered,
                extractive.text,
                extractive.citations,
                extractive.confidence,
                removed=answer.removed,
                generated=False,
            )
        return GeneratedAnswer(
            True, answer.text, answer.citations, extractive.confidence, removed=answer.removed
        )


def openai_chat_model(url: str, model: str, api_key: str | None, max_tokens: int) -> BaseChatModel:
    """A chat model behind an OpenAI-compatible endpoint (needs langchain-openai)."""
    from langchain_openai import ChatOpenAI

    options: dict[str, Any] = {"base_url": url, "model": model, "temperature": 0.0}
    return ChatOpenAI(api_key=api_key or "unused", max_completion_tokens=max_tokens, **options)


def llama_cpp_chat_model(path: Path, max_tokens: int, threads: int | None = None) -> BaseChatModel:
    """A local GGUF model through llama-cpp-python (the `llm` extra)."""
    from langchain_community.chat_models import ChatLlamaCpp

    return ChatLlamaCpp(
        model_path=str(path),
        temperature=0.0,
        max_tokens=max_tokens,
        n_ctx=2048,
        n_threads=threads,
        seed=0,
        verbose=False,
    )
