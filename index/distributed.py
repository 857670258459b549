"""Indexing on a Ray cluster: documents read and chunked by Ray Data tasks, embedded on an actor
pool, then written and published by this process exactly as `qa index` writes them.

This process keeps today's IndexWriter (segments, content hashes, atomic publishes); the
actors only turn texts into vectors, each with the model it loaded once, in its constructor.
Vectors come back keyed by text (`PrecomputedEmbedder`), so the writer cuts the same segments,
in the same order, as a one-process run. Only `qa index --distributed` imports this module,
and with it Ray (the `cluster` extra).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray.data import ActorPoolStrategy, DataContext, Dataset

from index.build import (
    SEGMENT_CHUNKS,
    BuildReport,
    ChunkingConfig,
    IndexProgress,
    IndexWriter,
    Progress,
    Validate,
    embedding_text,
    finish_build,
)
from index.build import open_writer as open_index_writer
from index.chunking import ChunkSpan, chunk_text
from index.documents import Document, iter_file_documents, iter_paths, validate_doc_id
from index.embedding import TORCH_RUNTIME, Embedder, SentenceTransformerEmbedder
from index.errors import QAError
from index.manifest import Manifest
from index.onnx_embedding import RUNTIME as ONNX_RUNTIME
from index.onnx_embedding import OnnxEmbedder
from index.sentences import STORED_BY_DEFAULT
from index.shards import ShardedWriter, check_shard_count, published_manifest
from index.store import IndexStore

# Ray Data tasks reading and chunking files ask for this much of a CPU: they are light next to
# the model, so they share cores with the embedding actors rather than wait for a whole one.
READ_CPUS = 0.25
# Texts per model call inside an actor (the writer's batch, index.build.IndexWriter._embed).
EMBED_BATCH = 256


@dataclass(frozen=True)
class ModelConfig:
    """What an embedding actor needs to load the configured model itself, on the index's runtime.

    cache_dir: where the ONNX runtime keeps the graph it exports from the packaged weights (each
    node exports its own once, index.onnx_embedding).
    """

    model: str
    max_seq_length: int | None = 256
    batch_size: int = 16
    torch_threads: int = 1
    runtime: str = TORCH_RUNTIME
    quantization: str = "none"
    cache_dir: str | None = None

    def load(self) -> Embedder:
        """The model, from local files (index.embedding, index.onnx_embedding)."""
        if self.runtime == ONNX_RUNTIME:
            if self.cache_dir is None:
                raise ValueError("the ONNX runtime needs a cache_dir for its exported graph")
            return OnnxEmbedder(
                self.model,
                cache_dir=Path(self.cache_dir),
                quantization=self.quantization,
                max_seq_length=self.max_seq_length,
                batch_size=self.batch_size,
                threads=self.torch_threads,
            )
        return SentenceTransformerEmbedder(
            self.model,
            max_seq_length=self.max_seq_length,
            batch_size=self.batch_size,
            torch_threads=self.torch_threads,
        )


@dataclass(frozen=True)
class ClusterConfig:
    """Where to run and how wide.

    address: a running cluster (`ray start --head`); None starts Ray on this machine's
    `local_cpus` (default: all cores). actors: embedding actors; None: one per `cpus_per_actor`
    of the cluster's CPUs.
    """

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: float = 1.0
    documents_per_batch: int = 8
    local_cpus: int | None = None


@contextmanager
def ray_session(cluster: ClusterConfig) -> Iterator[None]:
    """Join the cluster (or start a local Ray) unless this process already has; leave after."""
    if ray.is_initialized():
        yield
        return
    local = cluster.address is None
    ray.init(
        # "local" starts a new instance rather than joining one found on this machine.
        address="local" if local else cluster.address,
        num_cpus=(cluster.local_cpus or os.cpu_count()) if local else None,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


def document_texts(title: str, text: str, spans: Sequence[ChunkSpan], sentences: bool) -> list[str]:
    """What the model embeds for a document: its chunks, then (if stored) its distinct sentences."""
    texts = [embedding_text(title, text[s.start : s.end], s.start) for s in spans]
    if sentences:
        distinct = dict.fromkeys(sentence for span in spans for sentence in span.sentences)
        texts.extend(text[start:end] for start, end in distinct)
    return texts


def _encode_spans(spans: Sequence[ChunkSpan]) -> str:
    return json.dumps([[s.start, s.end, [list(t) for t in s.sentences]] for s in spans])


def _decode_spans(encoded: str) -> list[ChunkSpan]:
    return [
        ChunkSpan(start, end, tuple((a, b) for a, b in sentences))
        for start, end, sentences in json.loads(encoded)
    ]


def _row(position: int, doc_id: str, status: str, **fields: str) -> dict[str, Any]:
    # Every row has every column, so Ray Data infers one schema for all blocks.
    row = {"position": position, "doc_id": doc_id, "status": status, "error": ""}
    row.update(title="", text="", metadata="{}", spans="[]")
    row.update(fields)
    return row


def read_and_chunk(
    item: dict[str, Any], *, known: dict[str, str], chunking: dict[str, int]
) -> list[dict[str, Any]]:
    """A Ray Data task: the documents of one file, chunked unless unchanged since `known`."""
    position, doc_id = int(item["position"]), str(item["doc_id"])
    try:
        documents = list(
            iter_file_documents(Path(item["file"]), validate_doc_id(doc_id, allow_subfolders=True))
        )
    except QAError as exc:
        return [_row(position, doc_id, "error", error=exc.message)]
    rows = []
    for document in documents:
        if known.get(document.doc_id) == document.content_hash:
            rows.append(_row(position, document.doc_id, "unchanged"))
            continue
        spans = chunk_text(document.text, chunking["chunk_size"], chunking["overlap"])
        rows.append(
            _row(
                position,
                document.doc_id,
                "staged",
                title=document.title,
                text=document.text,
                metadata=json.dumps(document.metadata, ensure_ascii=False),
                spans=_encode_spans(spans),
            )
        )
    return rows


class EmbeddingActor:
    """A Ray Data actor: embeds the texts of staged documents with its own copy of the model."""

    def __init__(self, config: ModelConfig, sentences: bool) -> None:
        self.embedder = config.load()
        self.sentences = sentences
        self.model = json.dumps(self.embedder.describe())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        counts, texts = [], []
        for status, title, text, spans in zip(
            batch["status"], batch["title"], batch["text"], batch["spans"], strict=True
        ):
            found = []
            if status == "staged":
                found = document_texts(
                    str(title), str(text), _decode_spans(str(spans)), self.sentences
                )
            counts.append(len(found))
            texts.extend(found)
        parts = [
            self.embedder.embed_passages(texts[i : i + EMBED_BATCH])
            for i in range(0, len(texts), EMBED_BATCH)
        ]
        vectors = np.vstack(parts) if parts else np.zeros((0, self.embedder.dimensions), np.float32)
        bounds = np.cumsum([0, *counts])
        batch["vectors"] = np.array(
            [vectors[a:b].astype(np.float32).tobytes() for a, b in itertools.pairwise(bounds)],
            dtype=object,
        )
        batch["model"] = np.array([self.model] * len(counts), dtype=object)
        return batch


class PrecomputedEmbedder(Embedder):
    """Vectors embedded elsewhere, served by text; a text never supplied goes to `fallback`.

    The writer embeds exactly the texts the actors embedded (the same chunks and titles), so
    the fallback (a model loaded here, lazily) only serves sentence vectors backfilled for
    documents indexed before.
    """

    def __init__(self, fallback: Callable[[], Embedder]) -> None:
        self.name = ""
        self.dimensions = 0
        self._description: dict[str, Any] = {}
        self._fallback_factory = fallback
        self._fallback: Embedder | None = None
        # text -> (vector, how many lookups are still to come)
        self._vectors: dict[str, tuple[np.ndarray, int]] = {}

    def set_description(self, description: dict[str, Any]) -> None:
        """The model's describe(), as the actors report it."""
        self._description = dict(description)
        self.name = str(description["name"])
        self.dimensions = int(description["dimensions"])

    def describe(self) -> dict[str, Any]:
        if not self._description:
            self.set_description(self._local().describe())
        return dict(self._description)

    def supply(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Hold vectors[i] for texts[i] until the writer asks for it."""
        for text, vector in zip(texts, vectors, strict=True):
            held = self._vectors.get(text)
            self._vectors[text] = (vector, held[1] + 1 if held else 1)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Only the writer asks, and only for texts it stores: as embed_passages."""
        return self.embed_passages(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[np.ndarray | None] = []
        for text in texts:
            held = self._vectors.pop(text, None)
            if held is not None and held[1] > 1:
                self._vectors[text] = (held[0], held[1] - 1)
            rows.append(None if held is None else held[0])
        missing = [text for text, row in zip(texts, rows, strict=True) if row is None]
        if missing:
            embedded = iter(self._local().embed_passages(missing))
            rows = [next(embedded) if row is None else row for row in rows]
        if not rows:
            return np.zeros((0, self.dimensions), np.float32)
        return np.vstack([np.asarray(row, dtype=np.float32) for row in rows])

    def _local(self) -> Embedder:
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()


def embedding_pipeline(
    files: Sequence[tuple[Path, str]],
    known: dict[str, str],
    chunking: ChunkingConfig,
    model: ModelConfig,
    cluster: ClusterConfig,
    sentences: bool,
) -> Dataset:
    """Ray Data: read and chunk each file as a task, embed on an actor pool, in file order."""
    context = DataContext.get_current()
    # The writer must see documents in file order to cut the segments `qa index` cuts.
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # Ray Data's default, kept explicit: one actor per node before two on one, so the model's
    # memory is spread too.
    context.scheduling_strategy = "SPREAD"
    items = [{"position": i, "file": str(f), "doc_id": d} for i, (f, d) in enumerate(files)]
    actors = cluster.actors or max(
        1, int(ray.cluster_resources().get("CPU", 1) // cluster.cpus_per_actor)
    )
    return (
        ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * actors)))
        .flat_map(
            functools.partial(read_and_chunk, known=known, chunking=chunking.as_dict()),
            num_cpus=READ_CPUS,
        )
        .map_batches(
            EmbeddingActor,
            fn_constructor_kwargs={"config": model, "sentences": sentences},
            compute=ActorPoolStrategy(size=actors),
            batch_size=cluster.documents_per_batch,
            num_cpus=max(READ_CPUS, cluster.cpus_per_actor - READ_CPUS),
        )
    )


def _early_check(existing: Manifest | None, model: ModelConfig, chunking: ChunkingConfig) -> None:
    """Fail before any embedding when the index was built with another model or chunking.

    The dimensions are checked too once the actors report them (the writer's own check).
    """
    if existing is not None:
        configured = {"name": model.model, "dimensions": existing.model.get("dimensions")}
        existing.check_compatible(configured, chunking.as_dict())


def build_index_distributed(
    paths: Iterable[Path],
    store: IndexStore,
    model: ModelConfig,
    chunking: ChunkingConfig,
    cluster: ClusterConfig,
    *,
    prune: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
    segment_chunks: int = SEGMENT_CHUNKS,
    sentence_vectors: bool | None = None,
    validate: Validate | None = None,
    channel: Embedder | None = None,
    shards: int | None = None,
) -> BuildReport:
    """index.build.build_index, with reading, chunking and embedding on the cluster.

    channel: the multilingual channel's model (index.multilingual); its vectors are embedded
    by the writer, in this process. shards: split the index into that many (index.shards);
    None keeps the index's own count.

    The index holds what build_index writes for the same documents (the same segments and
    chunk ids; vectors within float tolerance), each full segment published as it is written.
    """
    files = list(iter_paths(paths))
    report = BuildReport()
    with store.write_lock():
        existing = None if rebuild else published_manifest(store)
        if not rebuild:
            check_shard_count(store, shards)
        _early_check(existing, model, chunking)
        known = {d: e.content_hash for d, e in existing.documents.items()} if existing else {}
        if sentence_vectors is None:
            sentences = existing.sentence_vectors if existing is not None else STORED_BY_DEFAULT
        else:
            sentences = sentence_vectors
        embedder = PrecomputedEmbedder(model.load)
        writer: IndexWriter | ShardedWriter | None = None

        def open_writer() -> IndexWriter | ShardedWriter:
            nonlocal writer
            if writer is None:
                writer = open_index_writer(
                    store,
                    embedder,
                    chunking,
                    shards=shards,
                    rebuild=rebuild,
                    segment_chunks=segment_chunks,
                    sentence_vectors=sentence_vectors,
                    validate=validate,
                    channel=channel,
                )
            return writer

        seen: set[str] = set()
        done = 0
        with ray_session(cluster):
            dataset = embedding_pipeline(files, known, chunking, model, cluster, sentences)
            for row in dataset.iter_rows():
                position = int(row["position"])
                if isinstance(progress, IndexProgress):
                    for _ in range(done, position):
                        progress.file_done()
                done = max(done, position)
                doc_id, status = str(row["doc_id"]), str(row["status"])
                if status == "error":
                    report.errors.append(str(row["error"]))
                    continue
                seen.add(doc_id)
                if status == "unchanged":
                    report.record("unchanged", doc_id)
                    continue
                _stage(row, embedder, open_writer, report, progress, sentences)
        if isinstance(progress, IndexProgress):
            for _ in range(done, len(files)):
                progress.file_done()
        if writer is None and existing is not None:
            # Nothing was embedded: the index's own model stands for the configured one.
            embedder.set_description(existing.model)
        finish_build(open_writer(), report, seen, prune=prune)
        embedder.close()
    return report


def _stage(
    row: dict[str, Any],
    embedder: PrecomputedEmbedder,
    open_writer: Callable[[], IndexWriter | ShardedWriter],
    report: BuildReport,
    progress: Progress | None,
    sentences: bool,
) -> None:
    """Hand one embedded document to the writer, its vectors to the embedder the writer asks."""
    if not embedder.name:
        embedder.set_description(json.loads(str(row["model"])))
    document = Document(
        doc_id=str(row["doc_id"]),
        text=str(row["text"]),
        title=str(row["title"]),
        metadata=json.loads(str(row["metadata"])),
    )
    spans = _decode_spans(str(row["spans"]))
    texts = document_texts(document.title, document.text, spans, sentences)
    vectors = np.frombuffer(row["vectors"], dtype=np.float32).reshape(len(texts), -1)
    embedder.supply(texts, vectors)
    report.record(open_writer().add(document, spans), document.doc_id)
    if progress is not None:
        if isinstance(progress, IndexProgress):
            progress.planned(len(texts))
        progress.update(len(texts))
