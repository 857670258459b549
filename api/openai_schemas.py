"""Bodies of the OpenAI-compatible chat API, with this service's extension fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from api.schemas import MAX_QUESTION_CHARS, CitationOut

MAX_MESSAGES = 200
MAX_MESSAGE_CHARS = 100_000


class ContentPart(BaseModel):
    """One part of a message's content; only text parts are read."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """A message of the conversation so far."""

    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: StrictBool = False


class QAOptions(BaseModel):
    """This service's extension of the request; a client that sends it reads `citations`."""

    model_config = ConfigDict(extra="forbid")

    footnotes: StrictBool | None = Field(
        None,
        description="Append the citations to the message content as numbered footnotes. "
        "Default: off when `qa` is sent, else the CHAT_FOOTNOTES setting (on).",
    )


class ChatCompletionRequest(BaseModel):
    """A chat completion request; the user messages before the last are the earlier turns.

    Sampling parameters (temperature, max_tokens, ...) are accepted and ignored: answers quote
    the documents.
    """

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, description="Any value; the service has one model.")
    messages: list[ChatMessage] = Field(
        description="The conversation; the last is the question.",
        json_schema_extra={"minItems": 1, "maxItems": MAX_MESSAGES},
    )
    # Strict: "stream": "yes" or 1 is a 422, not a stream.
    stream: StrictBool = Field(False, description="Send server-sent events in the chunk format.")
    stream_options: StreamOptions | None = None
    n: int = Field(
        1,
        description="Choices to return; only 1 is supported.",
        json_schema_extra={"minimum": 1, "maximum": 1},
    )
    qa: QAOptions | None = Field(None, description="This service's options (extension).")

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int) -> int:
        if n != 1:
            raise ValueError(
                "only n=1 is supported: answers quote the documents, so every choice would be "
                "the same"
            )
        return n

    @field_validator("messages")
    @classmethod
    def _messages(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not messages:
            raise ValueError("at least one message is required")
        if len(messages) > MAX_MESSAGES:
            raise ValueError(f"at most {MAX_MESSAGES} messages")
        if any(len(m.text) > MAX_MESSAGE_CHARS for m in messages):
            raise ValueError(f"each message must be at most {MAX_MESSAGE_CHARS} characters")
        last = messages[-1]
        if last.role != "user":
            raise ValueError("the last message must be the user's question")
        if not last.text.strip():
            raise ValueError("the last message must not be empty")
        if len(last.text) > MAX_QUESTION_CHARS:
            raise ValueError(f"the question must be at most {MAX_QUESTION_CHARS} characters")
        return messages

    @property
    def question(self) -> str:
        return self.messages[-1].text.strip()

    def footnotes(self, default: bool) -> bool:
        """Whether citations go into the content: asked for, else off for `qa`-aware clients."""
        if self.qa is None:
            return default
        return bool(self.qa.footnotes)

    @property
    def earlier_questions(self) -> list[str]:
        """The user's earlier messages, oldest first."""
        return [m.text for m in self.messages[:-1] if m.role == "user" and m.text.strip()]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    """Tokens of the embedding model's tokenizer (the service runs no language model)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """The usual chat.completion object, plus `citations` and `answered`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[CitationOut] = Field(description="What the answer's [n] markers refer to.")
    answered: bool = Field(description="False when the documents do not answer the question.")
    removed_sentences: int | None = Field(
        None, description="Written answers only: sentences dropped as unsupported by the excerpts."
    )


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "qa-service"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
