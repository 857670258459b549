"""The MiniLM embedder on ONNX Runtime: the packaged weights exported once, run without torch.

Hand-written rather than sentence-transformers' `backend="onnx"`: that needs optimum, whose
releases pin transformers below the version installed here (issue 19). The graph is exported
from the packaged weights on this machine at first use and cached (never downloaded); tokens come
from the packaged tokenizer.json and pooling is numpy, so vectors equal sentence-transformers'.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from index.embedding import DEFAULT_MODEL, Embedder, TokenCounter, normalise, resolve_model_path
from index.errors import ModelNotFound

RUNTIME = "onnx"
QUANTIZATIONS = ("none", "int8")
# Part of the cache key: a change to how the graph is made must not reuse an older file.
EXPORT_VERSION = 1
# Recorded in the index for int8 (vectors from another recipe differ): 2 quantised every
# operator ONNX Runtime could, 3 the matrix products only.
QUANTIZE_VERSION = 3
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_fingerprint(folder: Path) -> str:
    """A short digest of the model's configuration and weights (what the graph is made from)."""
    digest = hashlib.sha256(f"export {EXPORT_VERSION} opset {OPSET}".encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = folder / name
        if path.is_file():
            with open(path, "rb") as file:
                digest.update(name.encode() + hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()[:16]


def _replace_atomically(folder: Path, suffix: str, write: Any, target: Path) -> None:
    """Call write(temporary path), then move the file onto target, so no reader sees half of it."""
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=suffix)
    os.close(fd)
    try:
        write(temporary)
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _export_fp32(folder: Path, path: str) -> None:
    """Export the model folder's transformer (token vectors out) as an ONNX graph."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder))
    model.eval()

    class TokenVectors(torch.nn.Module):
        """The transformer with named inputs; its last hidden state out."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "token_vectors")}
    # The tracer warns of branches on shapes; with an attention mask given, none depends on them.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenVectors(),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            path,
            input_names=list(_INPUTS),
            output_names=["token_vectors"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, and exact here
        )


def _quantize_int8(source: Path, path: str) -> None:
    """Dynamic int8 quantisation of the graph's matrix products (activations at run time).

    Per channel: one scale for the whole of each matrix left some SciFact abstracts at cosine
    0.90 with the fp32 vector; a scale per output channel, 0.989. MatMul only: the embedding
    tables stay fp32 (their lookup costs nothing to speed up), which raised the lowest cosine to
    0.991 and the mean to 0.995, at the same CPU a text (`bench/quantization.py`,
    docs/performance.md).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        path,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
    )


def exported_model(model: str, cache_dir: Path, quantization: str = "none") -> Path:
    """The ONNX graph of a model, exported (and quantised) on first use and kept in cache_dir.

    A lock keeps two processes from exporting at once; files land whole (atomic rename).
    """
    if quantization not in QUANTIZATIONS:
        raise ModelNotFound(f"quantization {quantization!r} is not one of {QUANTIZATIONS}")
    folder = resolve_model_path(model)
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(model).name}-{model_fingerprint(folder)}"
    fp32 = cache_dir / f"{stem}-fp32.onnx"
    quantized = cache_dir / f"{stem}-{quantization}-q{QUANTIZE_VERSION}.onnx"
    target = fp32 if quantization == "none" else quantized
    if target.is_file():
        return target
    with FileLock(str(cache_dir / f"{stem}.lock")):
        if not fp32.is_file():
            _replace_atomically(cache_dir, ".onnx", lambda p: _export_fp32(folder, p), fp32)
        if not target.is_file():
            _replace_atomically(cache_dir, ".onnx", lambda p: _quantize_int8(fp32, p), target)
    return target


class OnnxEmbedder(Embedder):
    """A sentence-transformers BERT model (mean pooling, normalised) on ONNX Runtime's CPU.

    With int8, the texts an index stores (embed_passages) go through the quantised graph and
    everything embedded at question time (embed_batch: questions, the sentences an answer
    reads, claims) through the fp32 one. An int8 vector is the fp32 one plus noise (cosine about
    0.995): on both sides of a cosine the noise flipped near-ties between sentences and moved
    abstention across its threshold (staff set top-1 -1.4 points, wrong refusals +1.4), on one
    side only it changed one staff question of 293 (docs/performance.md). Each graph's session
    is opened on first use: `qa index` never loads the fp32 graph, a server that only answers
    never loads the int8 one.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cache_dir: Path,
        quantization: str = "none",
        max_seq_length: int | None = 256,
        batch_size: int = 16,
        threads: int | None = None,
        spinning: bool = False,
    ) -> None:
        """threads: ONNX Runtime's intra-op threads (None: all cores). spinning: let idle
        threads spin for the next call (lower latency on an idle machine, CPU burnt on a busy
        one)."""
        import onnxruntime
        from tokenizers import Tokenizer

        self._ort = onnxruntime  # imported here: a missing runtime fails at load, not later
        folder = resolve_model_path(model)
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise ModelNotFound(f"model {model!r} has no tokenizer.json for the ONNX runtime")
        # The graph of stored vectors (what the quantisation names), then the questions' one.
        self.graph = exported_model(model, cache_dir, quantization)
        self.query_graph = exported_model(model, cache_dir, "none")
        self.threads = threads or os.cpu_count() or 1
        self._spinning = spinning
        self._sessions: dict[tuple[Path, int], Any] = {}
        self._sessions_lock = threading.Lock()
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.max_seq_length = int(
            max_seq_length or min(512, config.get("max_position_embeddings", 512))
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_seq_length)
        self.name = model
        self.dimensions = int(config["hidden_size"])
        self.quantization = quantization
        self.batch_size = batch_size
        self._counter = TokenCounter.from_model_folder(folder)

    def _session(self, graph: Path, threads: int | None = None) -> Any:
        """The graph's inference session with that many intra-op threads (None: the
        embedder's), opened on first use."""
        threads = threads or self.threads
        with self._sessions_lock:
            session = self._sessions.get((graph, threads))
            if session is None:
                ort = self._ort
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                spin = "1" if self._spinning else "0"
                options.add_session_config_entry("session.intra_op.allow_spinning", spin)
                session = ort.InferenceSession(
                    str(graph), options, providers=["CPUExecutionProvider"]
                )
                self._sessions[(graph, threads)] = session
            return session

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in batches of similar length (less padding), in the order given; with
        the fp32 graph whatever the quantisation (the class docstring says why)."""
        return self._embed(texts, self.query_graph, self.batch_size)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts an index stores with the quantisation's graph.

        int8 embeds each text alone: dynamic quantisation scales a whole input tensor at once,
        so in a batch a text's vector moved with its neighbours (cosine 0.990 against the same
        text alone). Alone it also pads nothing: 38 against 52 CPU ms a SciFact abstract in
        batches of 16 (docs/performance.md). One text is too little work to split over the
        cores (a text alone on two intra-op threads kept 1.3 of 2 cores busy), so the texts are
        spread over one single-threaded run per core instead; a text's vector is the same.
        """
        if self.quantization == "none":
            return self._embed(texts, self.graph, self.batch_size)
        return self._embed_alone(texts, self.graph)

    def _embed(self, texts: Sequence[str], graph: Path, batch_size: int) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        session = self._session(graph)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = _embed_encoded(session, [encodings[i].ids for i in rows])
        return out

    def _embed_alone(self, texts: Sequence[str], graph: Path) -> np.ndarray:
        """Each text alone, on `threads` single-threaded runs side by side."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        session = self._session(graph, 1)
        encodings = self._tokenizer.encode_batch(list(texts))
        # ONNX Runtime releases the GIL while it runs, and a session serves concurrent runs.
        with ThreadPoolExecutor(max_workers=min(self.threads, len(texts))) as pool:
            vectors = pool.map(lambda e: _embed_encoded(session, [e.ids]), encodings)
            for row, vector in enumerate(vectors):
                out[row] = vector[0]
        return out

    def count_tokens(self, text: str) -> int:
        """Tokens of text for this model's tokenizer, untruncated, without special tokens."""
        return self._counter.count(text) if self._counter else super().count_tokens(text)

    def describe(self) -> dict[str, Any]:
        """Name, dimensions, sequence length, runtime and quantisation of the vectors."""
        return {
            **super().describe(),
            "max_seq_length": self.max_seq_length,
            "runtime": RUNTIME,
            "quantization": self.quantization,
            **({"quantize_version": QUANTIZE_VERSION} if self.quantization != "none" else {}),
        }


def _embed_encoded(session: Any, token_ids: list[list[int]]) -> np.ndarray:
    """Mean-pooled, normalised token vectors of one padded batch."""
    width = max(len(ids) for ids in token_ids)
    input_ids = np.zeros((len(token_ids), width), dtype=np.int64)
    mask = np.zeros((len(token_ids), width), dtype=np.int64)
    for row, ids in enumerate(token_ids):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": 0 * mask}
    (token_vectors,) = session.run(None, feed)
    weights = mask[:, :, None].astype(np.float32)
    means = (token_vectors * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return normalise(means)
