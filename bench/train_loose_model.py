"""Train the fact checker's loose-paraphrase model (qa/data/loose_model.npz).

    python bench/train_loose_model.py [--vectors /tmp/loose-vectors.npz]

A multinomial logistic regression over the lexical signals of `qa.verdict_model.LOOSE` only
(MiniLM similarity, term coverage, the shares of the claim's words the sentence and its document
do not account for, contrasts, negations, swaps, numbers): no claim or sentence vector, so it
cannot learn the claims it is trained on, which the pair-feature verdict model did on SciFact.
Training pairs: SciFact train claims with ids 0 mod 4 (`qa.check_eval.split_of`) against every
sentence of the abstracts they cite; a rationale sentence takes the claim's label, the others
are not_found. Its thresholds (`CheckConfig.loose_*`) are chosen on ids 2 mod 4 by
`python bench/check_scifact.py --tune --grid loose`; odd ids are held out. Deterministic: a run
reproduces the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SHARED
from train_verdict_model import cached_vectors, fit_model, idf_table, pair_rows

from index.text import tokenize
from qa.check import VERDICTS
from qa.check_eval import _overlaps, load_claims, sentence_spans, split_of
from qa.verdict_model import LOOSE, LOOSE_MODEL_PATH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", type=Path, default=SHARED / "eval" / "scifact")
    parser.add_argument("--vectors", type=Path, help="cache of text vectors (.npz) to reuse")
    parser.add_argument("--out", type=Path, default=LOOSE_MODEL_PATH)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation")
    args = parser.parse_args()

    corpus: dict[str, tuple[str, list[str]]] = {}
    with (args.scifact / "corpus.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            corpus[str(r["_id"])] = (r["title"], r["sentences"])
    idf = idf_table([" ".join(s) for _, s in corpus.values()])
    cited: dict[str, list[str]] = {}
    with (args.scifact / "claims_with_rationales.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            cited[str(r["id"])] = [str(d) for d in r.get("cited", [])]

    claims_x: list[str] = []
    evidence_x: list[str] = []
    docs_x: list[str | None] = []
    labels: list[str] = []
    for gold in load_claims(args.scifact):
        if split_of(gold.claim_id) != "train":
            continue
        for doc_id in cited[gold.claim_id]:
            if doc_id not in corpus:
                continue
            title, sentences = corpus[doc_id]
            document = title + "\n" + " ".join(sentences)
            for sentence, (start, end) in zip(sentences, sentence_spans(sentences), strict=True):
                rationale = any(_overlaps((doc_id, start, end), r) for r in gold.rationales)
                claims_x.append(gold.text)
                evidence_x.append(sentence)
                docs_x.append(document)
                labels.append(gold.verdict if rationale else "not_found")
    print(f"pairs: {len(labels)} {Counter(labels)}")

    embedder = None
    if args.vectors is None or not args.vectors.is_file():
        from api.settings import Settings
        from api.wiring import load_embedder

        embedder = load_embedder(Settings())
    unique = sorted(set(claims_x) | set(evidence_x))
    row = {t: i for i, t in enumerate(unique)}
    vectors = cached_vectors(embedder, unique, args.vectors)
    u = vectors[[row[c] for c in claims_x]]
    v = vectors[[row[e] for e in evidence_x]]
    _, found = pair_rows(idf, claims_x, evidence_x, u, v, docs_x)
    features = np.array(
        [s.loose_features(len(set(tokenize(c)))) for s, c in zip(found, claims_x, strict=True)],
        np.float32,
    )
    y = np.array([VERDICTS.index(label) for label in labels])  # type: ignore[arg-type]

    model = fit_model(features, y, args.c)
    model.save(args.out, LOOSE)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
