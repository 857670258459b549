"""Measuring the fact checker on SciFact-style data: evidence recall, verdicts, confusion."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from index.snapshot import IndexSnapshot
from qa.check import VERDICTS, CheckConfig, EvidenceSignals, FactChecker, Verdict, decide
from qa.tables import markdown_table

GOLD_VERDICTS: dict[str, Verdict] = {"SUPPORT": "supported", "CONTRADICT": "contradicted"}


@dataclass(frozen=True)
class GoldClaim:
    """A claim, its expected verdict and the sentences (as offsets) that justify it."""

    claim_id: str
    text: str
    verdict: Verdict
    rationales: tuple[tuple[str, int, int], ...]


@dataclass
class CheckReport:
    """Figures of one evaluation run."""

    claims: int = 0
    with_evidence: int = 0
    evidence_recall_at_3: float = 0.0
    accuracy: float = 0.0
    macro_f1: float = 0.0
    # confusion[gold][predicted] = count
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    config: dict[str, float] = field(default_factory=dict)


def sentence_spans(sentences: Sequence[str]) -> list[tuple[int, int]]:
    """Offsets of sentences in " ".join(sentences)."""
    spans, start = [], 0
    for sentence in sentences:
        spans.append((start, start + len(sentence)))
        start += len(sentence) + 1
    return spans


def load_claims(dataset: Path, split: str = "train") -> list[GoldClaim]:
    """The claims of a split with their gold verdicts and rationale sentence offsets."""
    spans: dict[str, list[tuple[int, int]]] = {}
    with (dataset / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            spans[str(record["_id"])] = sentence_spans(record["sentences"])
    claims = []
    with (dataset / "claims_with_rationales.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("split", split) != split:
                continue
            evidence = record["evidence"]
            labels = {e["label"] for e in evidence}
            if len(labels) > 1:
                continue  # conflicting gold: no single right verdict
            verdict = GOLD_VERDICTS[labels.pop()] if labels else "not_found"
            rationales = tuple(
                (str(e["doc_id"]), *spans[str(e["doc_id"])][i])
                for e in evidence
                for i in e["sentences"]
            )
            claims.append(GoldClaim(str(record["id"]), record["claim"], verdict, rationales))
    return claims


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    """Same document, and the spans share at least half of the shorter one."""
    if a[0] != b[0]:
        return False
    shared = min(a[2], b[2]) - max(a[1], b[1])
    return shared > 0 and shared * 2 >= min(a[2] - a[1], b[2] - b[1])


def evidence_hit(gold: GoldClaim, examined: list[EvidenceSignals], config: CheckConfig) -> bool:
    """True when a rationale sentence is among the top 3 sentences by support."""
    ranked = sorted(examined, key=lambda s: s.support(config), reverse=True)[:3]
    spans = [(s.candidate.doc_id, s.candidate.start, s.candidate.end) for s in ranked]
    return any(_overlaps(span, r) for span in spans for r in gold.rationales)


def score(
    golds: Sequence[GoldClaim], examined: Sequence[list[EvidenceSignals]], config: CheckConfig
) -> CheckReport:
    """Evidence recall@3, verdict accuracy, macro F1 and the confusion matrix."""
    confusion: dict[str, dict[str, int]] = {g: dict.fromkeys(VERDICTS, 0) for g in VERDICTS}
    hits = with_evidence = 0
    for gold, signals in zip(golds, examined, strict=True):
        verdict = decide(gold.text, 0, len(gold.text), signals, config).verdict
        confusion[gold.verdict][verdict] += 1
        if gold.rationales:
            with_evidence += 1
            hits += evidence_hit(gold, signals, config)
    total = len(golds)
    correct = sum(confusion[v][v] for v in VERDICTS)
    f1s = []
    for v in VERDICTS:
        predicted = sum(confusion[g][v] for g in VERDICTS)
        actual = sum(confusion[v].values())
        f1s.append(2 * confusion[v][v] / (predicted + actual) if predicted + actual else 0.0)
    return CheckReport(
        claims=total,
        with_evidence=with_evidence,
        evidence_recall_at_3=hits / with_evidence if with_evidence else 0.0,
        accuracy=correct / total if total else 0.0,
        macro_f1=sum(f1s) / len(f1s),
        confusion=confusion,
        config={k: v for k, v in asdict(config).items() if isinstance(v, float)},
    )


def examine_all(
    checker: FactChecker,
    snapshot: IndexSnapshot,
    golds: Iterable[GoldClaim],
    progress: Callable[[], object] | None = None,
) -> list[list[EvidenceSignals]]:
    """The signals of each claim's examined sentences (the slow, model-bound part)."""
    examined = []
    for gold in golds:
        examined.append(checker.examine(snapshot, gold.text))
        if progress:
            progress()
    return examined


TUNING_GRID: dict[str, tuple[float, ...]] = {
    "supported_at": (0.0, 0.1, 0.2, 0.3, 0.5, 0.7),
    "paraphrase_at": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01),
    "paraphrase_coverage": (0.0, 0.3, 0.5, 0.6, 0.8),
    "contradicted_at": (0.5, 0.6, 0.7, 0.8, 0.9, 1.01),
    "contradiction_coverage": (0.3, 0.5, 0.7, 0.9, 1.01),
    "contrast_unaccounted": (0.0, 1.0, 2.0, 100.0),
    "swap_paraphrase_at": (0.8, 0.9, 0.95, 1.01),
    "loose_similarity": (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 1.01),
    "loose_at": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
    "loose_reworded": (0.0, 1.0, 2.0, 3.0),
}


def supported_precision(report: CheckReport) -> float:
    """The share of claims marked supported that are supported."""
    predicted = sum(row["supported"] for row in report.confusion.values())
    return report.confusion["supported"]["supported"] / predicted if predicted else 0.0


def tune_config(
    golds: Sequence[GoldClaim],
    examined: Sequence[list[EvidenceSignals]],
    base: CheckConfig,
    grid: dict[str, tuple[float, ...]] = TUNING_GRID,
    min_precision: float = 0.8,
    passes: int = 3,
    max_contradicted_supported: float = 0.05,
) -> CheckConfig:
    """The configuration with the best accuracy among those whose "supported" is at least
    min_precision precise and that mark at most max_contradicted_supported of the contradicted
    claims supported (if none is, the closest), one threshold at a time.

    Coordinate ascent from base, a few passes over the grid's values of each threshold: the
    full product of the grid is millions of scorings. The contradicted share is held below
    the goal's 10% on the tuning claims, so that it holds on the others too.
    """

    def key(config: CheckConfig) -> tuple[float, float, float]:
        report = score(golds, examined, config)
        share = contradicted_supported(report)
        return (
            min(supported_precision(report), min_precision),
            -max(share, max_contradicted_supported),
            report.accuracy,
        )

    best, best_key = base, key(base)
    for _ in range(passes):
        improved = False
        for name, values in grid.items():
            for value in values:
                params: dict[str, Any] = {name: value}
                config = replace(best, **params)
                if config.paraphrase_at < config.supported_at or config == best:
                    continue
                found = key(config)
                if found > best_key:
                    best, best_key, improved = config, found, True
        if not improved:
            break
    return best


def contradicted_supported(report: CheckReport) -> float:
    """The share of contradicted claims marked supported."""
    row = report.confusion["contradicted"]
    total = sum(row.values())
    return row["supported"] / total if total else 0.0


SPLITS = ("train", "tune", "report")


def split_of(claim_id: str) -> str:
    """Which part of the claims an id belongs to: ids 0 mod 4 train the verdict model, ids 2
    mod 4 tune the thresholds, odd ids are held out for the report."""
    number = int(claim_id)
    return "report" if number % 2 else ("train" if number % 4 == 0 else "tune")


def splits(golds: Sequence[GoldClaim]) -> dict[str, list[int]]:
    """Indices of the claims of each split, in SPLITS order."""
    found: dict[str, list[int]] = {name: [] for name in SPLITS}
    for i, gold in enumerate(golds):
        found[split_of(gold.claim_id)].append(i)
    return found


def reported_subsets(parts: dict[str, list[int]], count: int) -> dict[str, list[int]]:
    """The claim indices each report covers, by its label: all, then each split."""
    return {
        "all": list(range(count)),
        "ids 0 mod 4 (model trained on)": parts["train"],
        "ids 2 mod 4 (thresholds tuned on)": parts["tune"],
        "odd ids (held out)": parts["report"],
    }


def halves(golds: Sequence[GoldClaim]) -> tuple[list[int], list[int]]:
    """Indices of claims with even ids and odd ids (held out)."""
    even = [i for i, g in enumerate(golds) if int(g.claim_id) % 2 == 0]
    odd = [i for i, g in enumerate(golds) if int(g.claim_id) % 2 == 1]
    return even, odd


def markdown(reports: dict[str, CheckReport]) -> str:
    """The reports as Markdown tables: figures per subset, then each confusion matrix."""
    headers = ["claims", "n", "with evidence", "evidence recall@3", "verdict accuracy", "macro F1"]
    figures = [
        [name, r.claims, r.with_evidence]
        + [f"{v:.3f}" for v in (r.evidence_recall_at_3, r.accuracy, r.macro_f1)]
        for name, r in reports.items()
    ]
    lines = [markdown_table(headers, figures)]
    for name, r in reports.items():
        lines += ["", f"Confusion ({name}; rows gold, columns predicted):", ""]
        rows = [
            [gold, *(r.confusion.get(gold, {}).get(p, 0) for p in VERDICTS)] for gold in VERDICTS
        ]
        lines.append(markdown_table(["gold \\ predicted", *VERDICTS], rows))
    return "\n".join(lines)


def subset_counts(golds: Sequence[GoldClaim]) -> Counter[str]:
    """How many claims of each gold verdict."""
    return Counter(g.verdict for g in golds)
