"""int8 quantisation variants of the ONNX MiniLM graph against fp32: cosine and CPU per text.

    python bench/quantization.py --abstracts 256 --questions 200
    python bench/quantization.py --variants recipe2,recipe3,fp32_ffn_out012

Each variant is onnxruntime's `quantize_dynamic` with other options (per-channel scales, the
reduced 7-bit range, which operators or nodes are quantised); its vectors of the first SciFact
abstracts and of SciFact and SQuAD questions are compared with fp32's (the lowest, 1st
percentile and mean cosine), and the process CPU time of embedding the abstracts in batches of
16 on ONNX Runtime's threads is reported per abstract (steadier than wall-clock time on a
loaded machine; not a latency benchmark).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, SHARED, markdown_table, write_json

sys.path.insert(0, str(ROOT))

LAYERS = 6
_FFN_OUT = "/model/encoder/layer.{}/output/dense/MatMul"
_FFN_IN = "/model/encoder/layer.{}/intermediate/dense/MatMul"


def _layer_nodes(layer: int) -> list[str]:
    """The six matrix products of one encoder layer (node names of the exported graph)."""
    base = f"/model/encoder/layer.{layer}"
    heads = [f"{base}/attention/self/{part}/MatMul" for part in ("query", "key", "value")]
    return [
        *heads,
        f"{base}/attention/output/dense/MatMul",
        _FFN_IN.format(layer),
        _FFN_OUT.format(layer),
    ]


# name -> quantize_dynamic keyword arguments; recipe3 is what index/onnx_embedding.py ships.
VARIANTS: dict[str, dict[str, Any]] = {
    "recipe1": {"per_channel": False},
    "recipe2": {"per_channel": True},
    "reduce_range": {"per_channel": True, "reduce_range": True},
    "weights_uint8": {"per_channel": True, "weight_type": "QUInt8"},
    "recipe3": {"per_channel": True, "op_types_to_quantize": ["MatMul"]},
    "fp32_ffn_out": {
        "per_channel": True,
        "op_types_to_quantize": ["MatMul"],
        "nodes_to_exclude": [_FFN_OUT.format(i) for i in range(LAYERS)],
    },
    "fp32_layer0": {
        "per_channel": True,
        "op_types_to_quantize": ["MatMul"],
        "nodes_to_exclude": _layer_nodes(0),
    },
    "fp32_layer5": {
        "per_channel": True,
        "op_types_to_quantize": ["MatMul"],
        "nodes_to_exclude": _layer_nodes(LAYERS - 1),
    },
}
for _layer in range(LAYERS):
    VARIANTS[f"fp32_ffn_out{_layer}"] = {
        "per_channel": True,
        "op_types_to_quantize": ["MatMul"],
        "nodes_to_exclude": [_FFN_OUT.format(_layer)],
    }
for _layers in ("01", "02", "012"):
    VARIANTS[f"fp32_ffn_out{_layers}"] = {
        "per_channel": True,
        "op_types_to_quantize": ["MatMul"],
        "nodes_to_exclude": [_FFN_OUT.format(int(i)) for i in _layers],
    }
VARIANTS["fp32_ffn_in"] = {
    "per_channel": True,
    "op_types_to_quantize": ["MatMul"],
    "nodes_to_exclude": [_FFN_IN.format(i) for i in range(LAYERS)],
}


def texts(abstracts: int, questions: int) -> tuple[list[str], list[str]]:
    """The first SciFact abstracts (title and text) and questions of SciFact and SQuAD 2.0."""
    eval_dir = SHARED / "eval"
    with (eval_dir / "scifact" / "corpus.jsonl").open(encoding="utf-8") as corpus:
        docs = [json.loads(line) for _, line in zip(range(abstracts), corpus, strict=False)]
    asked: list[str] = []
    for name in ("scifact", "squad2"):
        with (eval_dir / name / "queries.jsonl").open(encoding="utf-8") as file:
            asked += [
                json.loads(line)["text"] for _, line in zip(range(questions), file, strict=False)
            ]
    return [f"{d.get('title', '')}\n{d['text']}" for d in docs], asked


def quantize(fp32: Path, target: Path, options: dict[str, Any]) -> None:
    """onnxruntime's dynamic quantisation of fp32 into target with these options."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options = dict(options)
    options["weight_type"] = QuantType[options.get("weight_type", "QInt8")]
    quantize_dynamic(str(fp32), str(target), **options)


def embed(graph: Path | None, cache: Path, docs: list[str], asked: list[str]) -> dict[str, Any]:
    """Vectors of docs and asked on one graph (None: fp32) and the CPU ms per doc."""
    import index.onnx_embedding as onnx_embedding

    exported = onnx_embedding.exported_model
    if graph is not None:
        onnx_embedding.exported_model = lambda *_args, **_kw: graph  # type: ignore[assignment]
    try:
        embedder = onnx_embedding.OnnxEmbedder(cache_dir=cache)
    finally:
        onnx_embedding.exported_model = exported
    embedder.embed_batch(docs[:16])  # warm-up
    cpu0 = time.process_time()
    doc_vectors = np.concatenate(
        [embedder.embed_batch(docs[i : i + 16]) for i in range(0, len(docs), 16)]
    )
    cpu_ms = (time.process_time() - cpu0) * 1000 / len(docs)
    return {"docs": doc_vectors, "asked": embedder.embed_batch(asked), "cpu_ms": cpu_ms}


def cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Lowest, 1st-percentile and mean cosine between matching rows of two normalised arrays."""
    c = (a * b).sum(axis=1)
    return {"min": float(c.min()), "p1": float(np.percentile(c, 1)), "mean": float(c.mean())}


def _cell(value: object) -> object:
    """Cosines to five decimals, the rest as they are."""
    return f"{value:.5f}" if isinstance(value, float) and value < 1.0001 else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--abstracts", type=int, default=256)
    parser.add_argument("--questions", type=int, default=200, help="of each question set")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "models")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from index.embedding import DEFAULT_MODEL
    from index.onnx_embedding import exported_model

    docs, asked = texts(args.abstracts, args.questions)
    fp32 = exported_model(DEFAULT_MODEL, args.cache, "none")
    reference = embed(None, args.cache, docs, asked)
    rows = [{"variant": "fp32", "cpu_ms_per_abstract": reference["cpu_ms"]}]
    print(json.dumps(rows[0]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants.split(","):
            graph = Path(tmp) / f"{name}.onnx"
            quantize(fp32, graph, VARIANTS[name])
            got = embed(graph, args.cache, docs, asked)
            doc, question = (
                cosines(got["docs"], reference["docs"]),
                cosines(got["asked"], reference["asked"]),
            )
            row = {
                "variant": name,
                "cpu_ms_per_abstract": got["cpu_ms"],
                "MB": graph.stat().st_size / 1e6,
                **{f"abstract_{k}": v for k, v in doc.items()},
                **{f"question_{k}": v for k, v in question.items()},
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    headers = list(rows[-1])
    print(markdown_table(headers, [[_cell(row.get(h, "")) for h in headers] for row in rows]))
    summary = {"abstracts": len(docs), "questions": len(asked), "rows": rows}
    print(write_json("quantization.json", summary, args.out))


if __name__ == "__main__":
    main()
