"""Retrieval and answer quality on BEIR-layout datasets, through the service's own code path."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa import tables
from qa.service import QAService
from qa.tables import percentile


@dataclass(frozen=True)
class Query:
    """One evaluation query with its relevant documents and, for QA sets, its gold answers."""

    id: str
    text: str
    relevant: dict[str, int]
    answers: tuple[str, ...] = ()
    is_impossible: bool | None = None
    # metadata.question_language, when the queries carry it (XQuAD's files do).
    language: str | None = None


@dataclass
class EvalReport:
    """Averages over the queries of one dataset."""

    dataset: str
    queries: int
    metrics: dict[str, float] = field(default_factory=dict)
    abstention_curve: list[dict[str, float]] = field(default_factory=list)
    # The same averages per question language, when the queries say theirs.
    by_language: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    """JSON objects, one a line."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query-id -> {corpus-id: score} from a TSV with a header line."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        next(f, None)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = int(float(parts[2]))
    return qrels


def load_queries(
    dataset: Path,
    queries_file: Path | None = None,
    qrels_file: Path | None = None,
    split: str | None = None,
) -> list[Query]:
    """The queries of a BEIR folder that have judgements (or are marked impossible)."""
    if qrels_file is None:
        candidates = sorted((dataset / "qrels").glob("*.tsv"))
        preferred = [p for p in candidates if p.stem == "test"] or candidates
        if not preferred:
            raise FileNotFoundError(f"no qrels/*.tsv under {dataset}")
        qrels_file = preferred[0]
    qrels = read_qrels(qrels_file)
    queries = []
    for record in read_jsonl(queries_file or dataset / "queries.jsonl"):
        metadata = record.get("metadata") or {}
        if split is not None and metadata.get("split") != split:
            continue
        qid = str(record["_id"])
        impossible = record.get("is_impossible")
        if qid not in qrels and not impossible:
            continue
        queries.append(
            Query(
                id=qid,
                text=str(record["text"]),
                relevant=qrels.get(qid, {}),
                answers=tuple(record.get("answers") or ()),
                is_impossible=bool(impossible) if impossible is not None else None,
                language=metadata.get("question_language"),
            )
        )
    return queries


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Normalised discounted cumulative gain of a ranking at k."""
    gains = [relevant.get(doc, 0) for doc in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Share of relevant documents in the top k."""
    positive = {d for d, g in relevant.items() if g > 0}
    return len(positive & set(ranked[:k])) / len(positive) if positive else 0.0


def mrr_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within k."""
    for i, doc in enumerate(ranked[:k]):
        if relevant.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True when any gold answer occurs in text (case and spacing ignored)."""
    haystack = " ".join(text.lower().split())
    return any(" ".join(a.lower().split()) in haystack for a in answers if a.strip())


def document_ranking(service: QAService, query: str, depth: int = 100) -> list[str]:
    """Documents ranked by their best chunk, as /v1/search ranks chunks."""
    ranked: list[str] = []
    for hit in service.search(query, depth):
        if hit.doc_id not in ranked:
            ranked.append(hit.doc_id)
    return ranked


def evaluate(
    service: QAService,
    queries: list[Query],
    dataset: str,
    *,
    top_k: int = 8,
    progress: Callable[[int], object] | None = None,
) -> EvalReport:
    """Run every query through search and, for QA sets, ask; average the metrics."""
    retrieval: dict[str, list[float]] = {
        k: [] for k in ("ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10")
    }
    search_ms: list[float] = []
    ask_ms: list[float] = []
    # Per question language: (query, MRR@10 or None, top-1, top-3 or None).
    per_query: list[tuple[Query, float | None, bool | None, bool | None]] = []
    qa_rows: list[tuple[Query, bool, float, bool, bool]] = []
    is_qa = any(q.answers or q.is_impossible is not None for q in queries)
    for query in queries:
        started = time.perf_counter()
        ranked = document_ranking(service, query.text)
        search_ms.append((time.perf_counter() - started) * 1000)
        if query.relevant:
            retrieval["ndcg@10"].append(ndcg_at(ranked, query.relevant, 10))
            for k in (1, 5, 10):
                retrieval[f"recall@{k}"].append(recall_at(ranked, query.relevant, k))
            retrieval["mrr@10"].append(mrr_at(ranked, query.relevant, 10))
        mrr = mrr_at(ranked, query.relevant, 10) if query.relevant else None
        top1 = top3 = None
        if is_qa:
            started = time.perf_counter()
            answer = service.ask(query.text, top_k)
            ask_ms.append((time.perf_counter() - started) * 1000)
            texts = [c.text for c in answer.citations]
            top1 = bool(texts) and contains_answer(texts[0], query.answers)
            top3 = contains_answer(" \n ".join(texts[:3]), query.answers)
            qa_rows.append((query, answer.answered, answer.confidence, top1, top3))
        per_query.append((query, mrr, top1, top3))
        if progress is not None:
            progress(1)
    metrics = {k: statistics.fmean(v) for k, v in retrieval.items() if v}
    metrics["search_p50_ms"] = percentile(search_ms, 50)
    metrics["search_p95_ms"] = percentile(search_ms, 95)
    report = EvalReport(dataset=dataset, queries=len(queries), metrics=metrics)
    if qa_rows:
        _qa_metrics(report, qa_rows)
        metrics["ask_p50_ms"] = percentile(ask_ms, 50)
        metrics["ask_p95_ms"] = percentile(ask_ms, 95)
    report.by_language = by_language(per_query)
    return report


def by_language(
    rows: list[tuple[Query, float | None, bool | None, bool | None]],
) -> dict[str, dict[str, float]]:
    """MRR@10 and answer-in-citation rates per question language (queries that say theirs)."""
    groups: dict[str, list[tuple[Query, float | None, bool | None, bool | None]]] = {}
    for row in rows:
        if row[0].language:
            groups.setdefault(row[0].language, []).append(row)
    found: dict[str, dict[str, float]] = {}
    for language, group in sorted(groups.items()):
        figures: dict[str, float] = {"queries": float(len(group))}
        mrr = [r[1] for r in group if r[1] is not None]
        if mrr:
            figures["mrr@10"] = statistics.fmean(mrr)
        answerable = [r for r in group if r[0].answers and not r[0].is_impossible]
        if answerable and answerable[0][2] is not None:
            figures["answer_in_top1"] = statistics.fmean(bool(r[2]) for r in answerable)
            figures["answer_in_top3"] = statistics.fmean(bool(r[3]) for r in answerable)
        found[language] = figures
    return found


def language_table(report: EvalReport) -> str:
    """The per-language figures of a report, one row per question language."""
    keys = ("queries", "mrr@10", "answer_in_top1", "answer_in_top3")
    rows: list[list[object]] = [
        [
            language,
            *(
                ""
                if key not in figures
                else (f"{figures[key]:.0f}" if key == "queries" else f"{figures[key]:.3f}")
                for key in keys
            ),
        ]
        for language, figures in report.by_language.items()
    ]
    return tables.markdown_table(["question language", *keys], rows)


def _qa_metrics(report: EvalReport, rows: list[tuple[Query, bool, float, bool, bool]]) -> None:
    answerable = [r for r in rows if r[0].answers and not r[0].is_impossible]
    if answerable:
        report.metrics["answer_in_top1"] = statistics.fmean(r[3] for r in answerable)
        report.metrics["answer_in_top3"] = statistics.fmean(r[4] for r in answerable)
        report.metrics["answered_rate"] = statistics.fmean(r[1] for r in answerable)
    if not any(r[0].is_impossible for r in rows):
        return
    impossible = {id(r) for r in rows if r[0].is_impossible}

    def abstention(abstained: list[bool]) -> tuple[float, float]:
        flagged = [id(r) for r, a in zip(rows, abstained, strict=True) if a]
        hits = sum(1 for f in flagged if f in impossible)
        return (hits / len(flagged) if flagged else 1.0, hits / len(impossible))

    precision, recall = abstention([not r[1] for r in rows])
    report.metrics["abstain_precision"] = precision
    report.metrics["abstain_recall"] = recall
    # The trade-off: abstaining below each threshold of P(the evidence answers).
    for threshold in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        p, r = abstention([row[2] < threshold for row in rows])
        answered_ok = (
            statistics.fmean((row[2] >= threshold) and row[3] for row in answerable)
            if answerable
            else 0.0
        )
        report.abstention_curve.append(
            {
                "threshold": threshold,
                "abstain_precision": p,
                "abstain_recall": r,
                "answerable_top1_answered": answered_ok,
            }
        )


def markdown_table(reports: list[EvalReport]) -> str:
    """The reports side by side, one column per report."""
    keys: list[str] = []
    for report in reports:
        keys.extend(k for k in report.metrics if k not in keys)
    rows: list[list[object]] = [["queries", *(r.queries for r in reports)]]
    for key in keys:
        cells: list[object] = [key]
        for report in reports:
            value = report.metrics.get(key)
            cells.append(
                "" if value is None else (f"{value:.1f}" if key.endswith("_ms") else f"{value:.3f}")
            )
        rows.append(cells)
    return tables.markdown_table(["metric", *(r.dataset for r in reports)], rows)
