"""Real OpenAI clients against a live server: the `openai` package and langchain's ChatOpenAI."""

from __future__ import annotations

import re

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI

from tests.conftest import SEED_DOC_ID, SEEDS, LiveServer

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")
FIRST = "What agencies does China support?"
FOLLOW_UP = "What should they strengthen coordination with?"
PREVIOUS_ANSWER = "China supports the United Nations counter terrorism office [1]"
FOOTNOTE = re.compile(r'^\[(\d+)\] (\S+), characters (\d+)-(\d+): "(.*)"$', re.MULTILINE)


def cited_excerpts(content: str) -> list[str]:
    """The excerpts of the content's footnotes, each checked against the seed at its offsets."""
    excerpts = []
    for _n, doc_id, start, end, excerpt in FOOTNOTE.findall(content):
        assert doc_id == SEED_DOC_ID
        assert SEED_TEXT[int(start) : int(end)] == excerpt
        excerpts.append(excerpt)
    return excerpts


@pytest.fixture
def client(live_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=live_server.api_key)


def test_openai_completion_with_history(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="qa-extractive",
        messages=[
            {"role": "user", "content": FIRST},
            {"role": "assistant", "content": PREVIOUS_ANSWER},
            {"role": "user", "content": FOLLOW_UP},
        ],
    )
    assert completion.model == "qa-extractive"
    assert completion.choices[0].finish_reason == "stop"
    content = completion.choices[0].message.content
    extra = completion.model_extra or {}
    assert extra["answered"] is True
    top = extra["citations"][0]
    assert "strengthen coordination with regional organizations" in top["text"]
    assert SEED_TEXT[top["start"] : top["end"]] == top["text"]
    assert content is not None and f"\u201c{top['text']}\u201d [1]" in content
    assert cited_excerpts(content) == [c["text"] for c in extra["citations"]]
    assert completion.usage is not None and completion.usage.prompt_tokens > 0


def test_openai_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="qa-extractive",
        messages=[{"role": "user", "content": "What does China oppose?"}],
        stream=True,
    )
    chunks = list(stream)
    first_extra = chunks[0].model_extra or {}
    assert first_extra["answered"] is True
    assert "double standards and politicization" in first_extra["citations"][0]["text"]
    assert all("citations" not in (c.model_extra or {}) for c in chunks[1:])
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("\u201cWe must oppose double standards and politicization.\u201d [1]")
    assert cited_excerpts(text) == [c["text"] for c in first_extra["citations"]]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_models(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["qa-extractive"]
    assert client.models.retrieve("qa-extractive").owned_by == "qa-service"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")


def test_openai_several_choices_are_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError, match="only n=1 is supported"):
        client.chat.completions.create(
            model="qa-extractive", messages=[{"role": "user", "content": FIRST}], n=2
        )


def test_openai_wrong_key_is_an_authentication_error(live_server: LiveServer) -> None:
    wrong = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.status_code == 401


def test_langchain_chat_openai_invoke_and_stream(live_server: LiveServer) -> None:
    llm = ChatOpenAI(
        base_url=f"{live_server.url}/v1",
        api_key=live_server.api_key,  # type: ignore[arg-type]
        model="qa-extractive",
        max_retries=0,
    )
    history = [HumanMessage(FIRST), AIMessage(PREVIOUS_ANSWER), HumanMessage(FOLLOW_UP)]
    reply = llm.invoke(history)
    assert isinstance(reply.content, str)
    assert "strengthen coordination with regional organizations" in reply.content
    # The citations reach a client that reads only the content: as footnotes with offsets.
    excerpts = cited_excerpts(reply.content)
    assert any("strengthen coordination with regional organizations" in e for e in excerpts)
    streamed = "".join(str(chunk.content) for chunk in llm.stream(history))
    assert streamed == reply.content


def test_live_keys_guard_v1_but_not_the_page_or_probes(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        missing = http.post("/v1/ask", json={"question": FIRST})
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"]["code"] == "unauthorized"
        for path in ("/healthz", "/readyz", "/docs", "/openapi.json"):
            assert http.get(path).status_code == 200, path
        headers = {"Authorization": f"Bearer {live_server.api_key}"}
        assert http.post("/v1/ask", json={"question": FIRST}, headers=headers).status_code == 200
