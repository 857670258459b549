"""Ingest throughput: the indexing path end to end vs bare `SentenceTransformer.encode`, peak RSS.

    python bench/ingest.py --corpus ../shared/corpora/ungdc-session79-2024.jsonl --docs 20,60
    python bench/ingest.py --corpus ../shared/corpora/ungdc-1946-2024.tar.xz --docs 40
    QA_MAX_SEQ_LENGTH=128 QA_EMBED_BATCH_SIZE=64 python bench/ingest.py --phases encode

Each measurement runs in a fresh child process, so its peak RSS is its own: `index` reads the
first N documents, chunks, embeds, writes segments and publishes (IndexWriter, as `qa index`
does); `encode` embeds the very same chunk texts with one bare `model.encode` call; `pipeline`
is `index` without the model (a constant vector), to tell the service's memory from torch's;
`index-notrim` is `index` without giving freed heap back to the OS between batches
(index/memory.py); `index-sentences` is `index` storing sentence vectors too (`qa index
--sentence-vectors`), whose chunks/s says what answering cold questions without embedding costs;
`index-channel` is `index` with the multilingual channel on (QA_CHANNEL_MODEL, index.multilingual),
`index` itself runs with it off, so the two give the channel's share of ingest.
Resident memory is sampled twice a second while a phase runs: the highest sample of the first
and of the second half of the run show whether memory creeps with the corpus. Model loading is
timed apart and left out of chunks/s.

    python bench/ingest.py --corpus ../shared/corpora/ungdc-1946-2024.tar.xz --docs 300 \
        --phases index,index-notrim
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import ROOT, SHARED, machine, markdown_table, peak_rss_mb, write_json

sys.path.insert(0, str(ROOT))


class ConstantEmbedder:
    """The `pipeline` phase: everything but the model (same vector for every text)."""

    name, dimensions, batch_size, max_seq_length = "constant", 384, 0, 0

    def embed_batch(self, texts: list[str]) -> Any:
        import numpy as np

        return np.full((len(texts), self.dimensions), self.dimensions**-0.5, np.float32)

    def embed_passages(self, texts: list[str]) -> Any:
        return self.embed_batch(texts)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "dimensions": self.dimensions}


class RssSampler:
    """Samples this process's resident memory (MB) every `interval` seconds in a thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.samples.append(int(line.split()[1]) / 1024)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def halves(self) -> tuple[float, float]:
        """The highest sample of the first half of the run and of the second."""
        half = len(self.samples) // 2
        first, second = self.samples[:half] or [0.0], self.samples[half:] or [0.0]
        return max(first), max(second)


def child(phase: str, corpus: list[Path], docs: int) -> dict[str, Any]:
    """One measurement, in this (child) process."""
    from api.settings import Settings
    from api.wiring import load_embedder
    from index.build import IndexWriter, embedding_text
    from index.chunking import chunk_text
    from index.documents import iter_documents
    from index.multilingual import CHANNEL_MODEL, load_channel
    from index.store import IndexStore

    if phase == "index-notrim":
        import index.build

        index.build.release_free_memory = lambda: False
    settings = Settings()
    # `encode` is bare sentence-transformers on torch (all cores); the other phases run on
    # QA_EMBED_RUNTIME, by default the runtime of a new index.
    runtime = "torch" if phase == "encode" else settings.embed_runtime or "onnx"
    settings = settings.model_copy(update={"embed_runtime": runtime})
    t0 = time.perf_counter()
    embedder: Any = ConstantEmbedder() if phase == "pipeline" else load_embedder(settings)
    load_s = time.perf_counter() - t0
    rss_model = peak_rss_mb()
    chunking = settings.chunking()
    documents = itertools.islice(iter_documents(corpus), docs)
    sampler = RssSampler()
    sampler.start()
    channel = load_channel(CHANNEL_MODEL) if phase == "index-channel" else None
    if phase in ("index", "index-notrim", "index-sentences", "index-channel", "pipeline"):
        with tempfile.TemporaryDirectory() as tmp:
            store = IndexStore(Path(tmp) / "index")
            t0 = time.perf_counter()
            with store.write_lock():
                writer = IndexWriter(
                    store,
                    embedder,
                    chunking,
                    sentence_vectors=phase == "index-sentences",
                    channel=channel,
                )
                for document in documents:
                    writer.add(document)
                writer.flush()
            seconds = time.perf_counter() - t0
            chunks, sentences = writer.chunks_embedded, writer.sentences_embedded
    else:
        texts = [
            embedding_text(d.title, d.text[s.start : s.end], s.start)
            for d in documents
            for s in chunk_text(d.text, chunking.chunk_size, chunking.overlap)
        ]
        t0 = time.perf_counter()
        embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True)
        seconds = time.perf_counter() - t0
        chunks, sentences = len(texts), 0
    sampler.stop()
    first_half, second_half = sampler.halves()
    return {
        "phase": phase,
        "runtime": "constant" if phase == "pipeline" else runtime,
        "docs": docs,
        "chunks": chunks,
        "sentences": sentences,
        "seconds": seconds,
        "chunks_per_s": chunks / seconds,
        "model_load_s": load_s,
        "rss_after_model_mb": rss_model,
        "peak_rss_mb": peak_rss_mb(),
        "rss_first_half_mb": first_half,
        "rss_second_half_mb": second_half,
        "max_seq_length": embedder.max_seq_length,
        "batch_size": embedder.batch_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        action="append",
        default=[],
        help="files, folders or archives (default: the session-79 UN speeches)",
    )
    parser.add_argument("--docs", default="20,60", help="document counts, comma-separated")
    parser.add_argument("--phases", default="encode,index")
    parser.add_argument("--label", default="ingest")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    corpus = args.corpus or [SHARED / "corpora" / "ungdc-session79-2024.jsonl"]
    if args.child:
        print(json.dumps(child(args.child, corpus, int(args.docs))))
        return
    rows = []
    for docs in [int(d) for d in args.docs.split(",")]:
        for phase in args.phases.split(","):
            cmd = [sys.executable, __file__, "--child", phase, "--docs", str(docs)]
            cmd += [arg for c in corpus for arg in ("--corpus", str(c))]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(row))
            rows.append(row)
    table = []
    for r in rows:
        bare = next((x for x in rows if x["phase"] == "encode" and x["docs"] == r["docs"]), None)
        share = f"{100 * r['chunks_per_s'] / bare['chunks_per_s']:.0f}%" if bare else ""
        table.append(
            [
                r["phase"],
                r.get("runtime", ""),
                r["max_seq_length"],
                r["batch_size"],
                r["docs"],
                r["chunks"],
                r.get("sentences", 0),
                r["seconds"],
                r["chunks_per_s"],
                share,
                r["rss_after_model_mb"],
                r["peak_rss_mb"],
                r["rss_first_half_mb"],
                r["rss_second_half_mb"],
            ]
        )
    headers = [
        "path", "runtime", "max_seq", "batch", "docs", "chunks", "sentences", "seconds", "chunks/s",
        "of bare encode", "RSS after model MB", "peak RSS MB", "max RSS 1st half MB",
        "max RSS 2nd half MB",
    ]  # fmt: skip
    print(f"\n### {args.label}: {', '.join(map(str, corpus))}\n")
    print(markdown_table(headers, table))
    path = write_json(
        f"{args.label}.json",
        {"machine": machine(), "corpus": [str(c) for c in corpus], "rows": rows},
        args.out,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
