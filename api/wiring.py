"""The composition root: Settings in, a ready embedder, QAService and answer writer out.

The HTTP app's lifespan and every `qa` command build what they use here, so a setting means
the same thing wherever the service runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import Settings
from index.batching import BatchingEmbedder
from index.embedding import TORCH_RUNTIME, Embedder, SentenceTransformerEmbedder
from index.errors import QAError
from index.multilingual import load_channel
from index.onnx_embedding import RUNTIME as ONNX_RUNTIME
from index.onnx_embedding import OnnxEmbedder
from index.shards import published_manifest
from index.store import IndexStore
from qa.retrieval import RetrievalConfig
from qa.service import QAService

if TYPE_CHECKING:
    from index.build import BuildReport, Progress
    from index.snapshot import ShardSource
    from qa.generate import GroundedGenerator

logger = logging.getLogger("api")

# Serving one question at a time, one torch thread answers as fast as two and uses half the CPU,
# so concurrent requests get the other core (bench/latency.py, docs/performance.md).
SERVING_TORCH_THREADS = 1
# int8 for a new ONNX index: stored vectors at about half fp32's CPU a text (ingest 188% of bare
# encode against 120%), questions still embedded by the fp32 graph; the staff set, squad2, XQuAD
# and the claim sets as fp32's within one question (docs/performance.md "int8 for new indexes").
NEW_INDEX_QUANTIZATION = "int8"


def load_embedder(
    settings: Settings, *, serving: bool = False, index_dir: Path | None = None
) -> Embedder:
    """The configured embedding model, from local files, on the configured runtime.

    ONNX Runtime uses QA_ONNX_THREADS (all cores) for every call. Torch threads: QA_TORCH_THREADS
    if set, else one when serving and all cores for indexing; when serving, model calls of several
    texts (concurrent questions batched together, the sentences of an answer) use
    QA_BATCH_TORCH_THREADS, by default all cores.
    """
    runtime, quantization = model_runtime_and_quantization(settings, index_dir)
    if runtime == ONNX_RUNTIME:
        return OnnxEmbedder(
            settings.model,
            cache_dir=settings.model_cache_path,
            quantization=quantization,
            max_seq_length=settings.max_seq_length,
            batch_size=settings.embed_batch_size,
            threads=settings.onnx_threads,
        )
    threads = settings.torch_threads or (SERVING_TORCH_THREADS if serving else None)
    batch_threads = None
    if serving:
        batch_threads = settings.batch_torch_threads or settings.torch_threads or os.cpu_count()
    return SentenceTransformerEmbedder(
        settings.model,
        max_seq_length=settings.max_seq_length,
        batch_size=settings.embed_batch_size,
        torch_threads=threads,
        batch_torch_threads=batch_threads,
    )


def model_runtime(settings: Settings, index_dir: Path | None = None) -> str:
    """QA_EMBED_RUNTIME, else the runtime the index was built with, else ONNX for a new index."""
    return model_runtime_and_quantization(settings, index_dir)[0]


def model_runtime_and_quantization(
    settings: Settings, index_dir: Path | None = None
) -> tuple[str, str]:
    """The model runtime (model_runtime) and its quantisation: QA_EMBED_QUANTIZATION, else the
    index's when it was built on that runtime, else int8 on ONNX (a new index) and none on torch."""
    try:
        manifest = published_manifest(open_store(settings, index_dir))
    except (QAError, OSError):
        manifest = None  # whatever reads the index next reports what is wrong with it
    built = manifest.model if manifest is not None else None
    runtime = settings.embed_runtime or (
        str(built.get("runtime", TORCH_RUNTIME)) if built is not None else ONNX_RUNTIME
    )
    if runtime != ONNX_RUNTIME:
        return runtime, "none"
    if settings.embed_quantization:
        return runtime, settings.embed_quantization
    if built is not None and built.get("runtime", TORCH_RUNTIME) == runtime:
        return runtime, str(built.get("quantization", "none"))
    return runtime, NEW_INDEX_QUANTIZATION


def open_store(settings: Settings, index_dir: Path | None = None) -> IndexStore:
    """The index folder: `index_dir`, else QA_INDEX_DIR (default DATA_DIR/index)."""
    return IndexStore(index_dir or settings.index_path)


def load_service(
    settings: Settings,
    *,
    micro_batches: bool = False,
    index_dir: Path | None = None,
    retrieval_config: RetrievalConfig | None = None,
    load_index: bool = True,
    index_seeds: bool = True,
    on_batch: Callable[[int], object] | None = None,
) -> QAService:
    """The service over the configured model and index.

    micro_batches (the HTTP app): the model runs on its own thread and the texts of concurrent
    requests are embedded together. load_index: read the index now (else on first question;
    commands that only write it never read it). index_seeds: index QA_SEED_PATHS first when
    the index is empty and QA_INDEX_SEEDS_IF_EMPTY is set.
    """
    embedder: Embedder
    if micro_batches:
        # Loaded on the model thread itself: torch is then only ever used from that thread.
        embedder = BatchingEmbedder(
            lambda: load_embedder(settings, serving=True, index_dir=index_dir),
            settings.micro_batch,
            on_batch=on_batch,
        )
    else:
        embedder = load_embedder(settings, index_dir=index_dir)
    store = open_store(settings, index_dir)
    was_empty = not store.exists()
    vectors = shard_actors(settings, embedder.dimensions) if settings.serve_distributed else None
    service = QAService(
        store,
        embedder,
        settings.chunking(),
        settings.answer_config(),
        retrieval_config,
        segment_chunks=settings.segment_chunks,
        answer_cache_size=settings.answer_cache_size,
        sentence_vectors=settings.sentence_vectors,
        load_index=load_index,
        channel=load_channel(settings.channel_model),
        vectors=vectors,
    )
    seeds = [path for path in settings.seed_paths if path.exists()]
    if index_seeds and settings.index_seeds_if_empty and was_empty and seeds:
        report = service.index_paths(seeds)
        logger.info("indexed %d seed documents into %s", len(report.added), store.root)
    return service


def shard_actors(settings: Settings, dimensions: int) -> ShardSource:
    """`qa serve --distributed`: each shard's vectors held by a Ray actor on the cluster at
    QA_RAY_ADDRESS (else a local Ray); Ray is imported here only (the `cluster` extra)."""
    import ray

    from index.shard_actors import ShardActors

    if not ray.is_initialized():
        ray.init(
            address=settings.ray_address or "local",
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    return ShardActors(dimensions)


def index_on_cluster(
    settings: Settings,
    paths: Sequence[Path],
    *,
    prune: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
    actors: int | None = None,
    shards: int | None = None,
) -> BuildReport:
    """`qa index --distributed`: index paths on the Ray cluster at QA_RAY_ADDRESS (else a local
    Ray), into the configured index; Ray is imported here only (the `cluster` extra)."""
    from index.distributed import ClusterConfig, ModelConfig, build_index_distributed

    runtime, quantization = model_runtime_and_quantization(settings)
    model = ModelConfig(
        settings.model,
        max_seq_length=settings.max_seq_length,
        batch_size=settings.embed_batch_size,
        torch_threads=settings.torch_threads or 1,
        runtime=runtime,
        quantization=quantization,
        cache_dir=str(settings.model_cache_path),
    )
    return build_index_distributed(
        paths,
        open_store(settings),
        model,
        settings.chunking(),
        ClusterConfig(address=settings.ray_address, actors=actors),
        prune=prune,
        rebuild=rebuild,
        progress=progress,
        segment_chunks=settings.segment_chunks,
        sentence_vectors=settings.sentence_vectors,
        channel=load_channel(settings.channel_model),
        shards=shards,
    )


def load_generator(settings: Settings, service: QAService) -> GroundedGenerator | None:
    """The answer writer when a language model is configured, else None (extractive answers).

    qa.generate (and langchain with it) is imported only when a model is configured.
    """
    if settings.llm_url:
        from qa.generate import GroundedGenerator, openai_chat_model

        model = openai_chat_model(
            settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_max_tokens
        )
        return GroundedGenerator(service, model)
    if settings.llm_gguf:
        from qa.generate import GroundedGenerator, llama_cpp_chat_model

        model = llama_cpp_chat_model(settings.llm_gguf, settings.llm_max_tokens)
        return GroundedGenerator(service, model, one_at_a_time=True)
    return None
